// Failover across the nodes of a Glint cluster: a Player or Publisher given `servers`
// goes on from the next node when the one it uses is lost or cannot serve. Any node of a
// cluster serves any room (docs/CLUSTER.md): a viewer's new node relays the room, a
// host's new node becomes the room's origin.

import type { GlintError } from './errors.js';

const trim = (u: string) => u.replace(/\/+$/, '');

/** Nodes is the ring of base URLs used in turn: `server`, then `servers`. */
export class Nodes {
  private readonly list: string[];

  constructor(server: string, servers: string[] = []) {
    this.list = [...new Set([server, ...servers].map(trim))];
  }

  /** many says whether there is another node to go to. */
  get many(): boolean {
    return this.list.length > 1;
  }

  /** after is the node after `from`, round again (the first when `from` is none of them). */
  after(from: string): string {
    return this.list[(this.list.indexOf(trim(from)) + 1) % this.list.length];
  }

  /** moveOn points ep at the node after the one it uses, and says which it left and took. */
  moveOn(ep: { server: string }): { from: string; to: string } {
    const from = ep.server;
    return { from, to: (ep.server = this.after(from)) };
  }
}

/**
 * failsOver says whether an error means the node is lost or cannot serve now, so another
 * node should be tried: no answer, a connection lost or never made, or a server error. A
 * refusal (4xx), a room not started (404) and a full server with an LL-HLS alternate (503
 * with a Link) are the room's, the same on every node.
 */
export function failsOver(err: GlintError): boolean {
  if (err.code === 'network' || err.code === 'timeout' || err.code === 'ice') return true;
  const status = err.status ?? 0;
  return err.code === 'http' && status >= 500 && !(status === 503 && err.alternate);
}
