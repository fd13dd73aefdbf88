// InteractionSocket keeps an Interaction on a WebSocket (/ws/{room}) and reconnects it
// when it drops: for LL-HLS viewers and for pages and services without video.

import { backoffDelay, sleep } from './backoff.js';
import { openWebSocket } from './channel.js';
import { Interaction } from './interaction.js';
import type { Endpoint } from './whip.js';

export class InteractionSocket {
  private readonly stop = new AbortController();
  private running: Promise<void> | null = null;

  constructor(
    private readonly ep: Endpoint,
    readonly interaction: Interaction = new Interaction(),
  ) {}

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
      try {
        const ws = await openWebSocket(this.ep);
        if (signal.aborted) {
          ws.close(); // closed while it was opening
          break;
        }
        attempt = 0;
        const transport = { send: (t: string) => ws.send(t) };
        const onAbort = () => ws.close();
        await new Promise<void>((resolve) => {
          ws.onmessage = (e) => typeof e.data === 'string' && this.interaction.receive(e.data);
          ws.onclose = () => resolve();
          signal.addEventListener('abort', onAbort, { once: true });
          this.interaction.attach(transport);
        });
        signal.removeEventListener('abort', onAbort);
        this.interaction.detach(transport);
      } catch {
        // not open: tried again below
      }
      await sleep(backoffDelay(attempt++, { maxMs: 5000 }), signal).catch(() => {});
    }
  }
}
