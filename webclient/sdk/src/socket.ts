// InteractionSocket keeps an Interaction on a WebSocket (/ws/{room}) and reconnects it
// when it drops: for LL-HLS viewers and for pages and services without video. On a
// cluster it goes on from another node when its node is lost, as a Player does.

import { backoffDelay, sleep } from './backoff.js';
import { openWebSocket } from './channel.js';
import { GlintError, asError } from './errors.js';
import { Nodes, failsOver } from './failover.js';
import { Interaction } from './interaction.js';
import type { Endpoint } from './whip.js';

export interface InteractionSocketOptions {
  /** More nodes of a Glint cluster (base URLs, like the endpoint's `server`) to go on from when the node is lost. */
  servers?: string[];
  /** Learn the cluster's other nodes from each node connected to (GET /nodes), as a Player does (default true). */
  discover?: boolean;
  /** A connection that says nothing for this long is given up, ms (default 2500). */
  deadAfterMs?: number;
}

// PING_MS is how often an open connection is checked; one quiet for a third of deadAfterMs
// is pinged (the server answers), so a pong has two ticks to come.
const PING_MS = 1000;

export class InteractionSocket {
  private readonly stop = new AbortController();
  private running: Promise<void> | null = null;
  private readonly ep: Endpoint;
  private readonly nodes: Nodes;
  private readonly opts: InteractionSocketOptions;
  private pinging = false;

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
    let watchdog: ReturnType<typeof setInterval> | undefined;
    await new Promise<void>((resolve) => {
      ws.onmessage = (e) => typeof e.data === 'string' && this.interaction.receive(e.data);
      ws.onclose = () => resolve();
      signal.addEventListener('abort', onAbort, { once: true });
      this.interaction.attach(transport);
      const dead = this.opts.deadAfterMs!;
      let lastTick = performance.now();
      watchdog = setInterval(() => {
        const now = performance.now();
        const quiet = now - this.interaction.lastReceived;
        // A late tick (a throttled background tab) proves nothing about the link: ping
        // and look again at the next one.
        const late = now - lastTick > 2 * PING_MS;
        lastTick = now;
        if (quiet > dead && !late) {
          why = new GlintError('timeout', `WebSocket to ${this.ep.server}: nothing for ${dead} ms`);
          ws.close();
          resolve();
        } else if (quiet > dead / 3 && !this.pinging) {
          // Only a quiet room is pinged (an LL-HLS crowd rides these), one ping at a time.
          this.pinging = true;
          this.interaction
            .ping()
            .catch(() => {})
            .finally(() => (this.pinging = false));
        }
      }, PING_MS);
    });
    clearInterval(watchdog);
    signal.removeEventListener('abort', onAbort);
    this.interaction.detach(transport);
    return why;
  }
}
