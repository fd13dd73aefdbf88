// InteractionSocket keeps an Interaction on a WebSocket (/ws/{room}) and reconnects it
// when it drops: for LL-HLS viewers and for pages and services without video. On a
// cluster it goes on from another node when its node is lost, as a Player does.

import { backoffDelay, sleep } from './backoff.js';
import { openWebSocket } from './channel.js';
import { GlintError, asError } from './errors.js';
import { Nodes, failsOver } from './failover.js';
import { Interaction } from './interaction.js';
import { watchLink } from './liveness.js';
import type { Endpoint } from './whip.js';

export interface InteractionSocketOptions {
  /** More nodes of a Glint cluster (base URLs, like the endpoint's `server`) to go on from when the node is lost. */
  servers?: string[];
  /** Learn the cluster's other nodes from each node connected to (GET /nodes), as a Player does (default true). */
  discover?: boolean;
  /** A connection that says nothing for this long is given up, ms (default 2500). */
  deadAfterMs?: number;
}

export class InteractionSocket {
  private readonly stop = new AbortController();
  private running: Promise<void> | null = null;
  private readonly ep: Endpoint;
  private readonly nodes: Nodes;
  private readonly opts: InteractionSocketOptions;

  constructor(
    ep: Endpoint,
    readonly interaction: Interaction = new Interaction(),
    opts: InteractionSocketOptions = {},
  ) {
    this.ep = { ...ep };
    this.opts = { discover: true, deadAfterMs: 2500, ...opts };
    this.nodes = new Nodes(ep.server, opts.servers);
  }

  /** server is the node connected to (or tried next): the endpoint's, or another after a failover. */
  get server(): string {
    return this.ep.server;
  }

  /** connect resolves when the first connection is open; it reconnects until close(). */
  connect(): Promise<void> {
    return new Promise((resolve) => {
      this.interaction.once('connection', () => resolve());
      this.running ??= this.run();
    });
  }

  /** close ends the connection; the Interaction stays usable for another transport. */
  close(): void {
    this.stop.abort();
  }

  private async run(): Promise<void> {
    const signal = this.stop.signal;
    for (let attempt = 0; !signal.aborted; ) {
      let lost: GlintError;
      try {
        const ws = await openWebSocket(this.ep);
        if (signal.aborted) {
          ws.close(); // closed while it was opening
          break;
        }
        attempt = 0;
        if (this.opts.discover) this.nodes.discover(this.ep.server, signal);
        lost = await this.serve(ws, signal);
      } catch (err) {
        lost = asError(err, 'network');
      }
      if (signal.aborted) break;
      if (this.nodes.many && failsOver(lost)) this.nodes.moveOn(this.ep);
      await sleep(backoffDelay(attempt++, { maxMs: 5000 }), signal).catch(() => {});
    }
  }

  // serve carries the interaction on an open socket until it closes, or says nothing for
  // deadAfterMs (a node cut off or hung: no close comes), and says how it was lost.
  private async serve(ws: WebSocket, signal: AbortSignal): Promise<GlintError> {
    const transport = { send: (t: string) => ws.send(t) };
    let why = new GlintError('network', `WebSocket to ${this.ep.server}: closed`);
    const onAbort = () => ws.close();
    let unwatch = () => {};
    await new Promise<void>((resolve) => {
      ws.onmessage = (e) => typeof e.data === 'string' && this.interaction.receive(e.data);
      ws.onclose = () => resolve();
      signal.addEventListener('abort', onAbort, { once: true });
      this.interaction.attach(transport);
      const dead = this.opts.deadAfterMs!;
      unwatch = watchLink(this.interaction, dead, () => true, () => {
        why = new GlintError('timeout', `WebSocket to ${this.ep.server}: nothing for ${dead} ms`);
        ws.close();
        resolve();
      });
    });
    unwatch();
    signal.removeEventListener('abort', onAbort);
    this.interaction.detach(transport);
    return why;
  }
}
