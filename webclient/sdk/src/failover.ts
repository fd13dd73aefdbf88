// Failover across the nodes of a Glint cluster: a Player or Publisher goes on from the next
// node when the one it uses is lost or cannot serve. It knows the nodes it was given
// (`server`, `servers`) and those its node lists (GET /nodes, asked on every connect). Any
// node of a cluster serves any room (docs/CLUSTER.md): a viewer's new node relays the
// room, a host's new node becomes the room's origin.

import type { GlintError } from './errors.js';

const trim = (u: string) => u.replace(/\/+$/, '');

/** Nodes is the ring of base URLs used in turn: `server`, then `servers`, then those learned. */
export class Nodes {
  private list: string[];
  private readonly given: number;
  private asking = ''; // the node whose answer learn waits for: none once moved on

  constructor(server: string, servers: string[] = []) {
    this.list = [...new Set([server, ...servers].map(trim))];
    this.given = this.list.length;
  }

  /**
   * learn makes `urls` the learned part of the ring, after the nodes given (those gone
   * from a newer answer go; at most MAX_NODES in all), in a random order: every viewer of
   * a lost node learned the same list from it, and they should spread over the others
   * rather than all go to the same one.
   */
  learn(urls: string[]): void {
    const given = this.list.slice(0, this.given);
    const fresh = [...new Set(urls.map(trim))].filter((u) => !given.includes(u));
    for (let i = fresh.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [fresh[i], fresh[j]] = [fresh[j], fresh[i]];
    }
    this.list = [...given, ...fresh.slice(0, Math.max(0, MAX_NODES - given.length))];
  }

  /**
   * discover learns the nodes `server` lists (GET /nodes), in the background. From an
   * https server only https nodes are taken: a token must not move to plain HTTP.
   */
  discover(server: string, signal?: AbortSignal): void {
    const secure = server.startsWith('https:');
    this.asking = server;
    void discoverNodes(server, signal).then((urls) => {
      // No answer (a node going down) keeps what was learned; an answer from a node left
      // since is not the latest word.
      if (urls && this.asking === server) this.learn(urls.filter((u) => !secure || u.startsWith('https:')));
    });
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
    this.asking = '';
    return { from, to: (ep.server = this.after(from)) };
  }
}

/** MAX_NODES bounds the ring: a cluster has a handful of nodes, not thousands. */
const MAX_NODES = 64;

/**
 * discoverNodes asks a node for its cluster's nodes (GET /nodes: base URLs, that node
 * first): [] from a node alone or an older server (404), null when it does not answer.
 */
export async function discoverNodes(server: string, signal?: AbortSignal): Promise<string[] | null> {
  try {
    const res = await fetch(`${trim(server)}/nodes`, { signal });
    if (res.status === 404) return [];
    if (!res.ok) return null;
    const body = (await res.json()) as { nodes?: { url?: unknown }[] };
    return (body.nodes ?? [])
      .map((n) => n.url)
      .filter((u): u is string => typeof u === 'string' && /^https?:\/\/[^/]/.test(u));
  } catch {
    return null;
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
