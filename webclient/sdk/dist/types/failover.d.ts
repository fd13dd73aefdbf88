import type { GlintError } from './errors.js';
/** Nodes is the ring of base URLs used in turn: `server`, then `servers`, then those learned. */
export declare class Nodes {
    private list;
    private readonly given;
    private asking;
    constructor(server: string, servers?: string[]);
    /**
     * learn makes `urls` the learned part of the ring, after the nodes given (those gone
     * from a newer answer go; at most MAX_NODES in all), in a random order: every viewer of
     * a lost node learned the same list from it, and they should spread over the others
     * rather than all go to the same one.
     */
    learn(urls: string[]): void;
    /**
     * discover learns the nodes `server` lists (GET /nodes), in the background. From an
     * https server only https nodes are taken: a token must not move to plain HTTP.
     */
    discover(server: string, signal?: AbortSignal): void;
    /** many says whether there is another node to go to. */
    get many(): boolean;
    /** after is the node after `from`, round again (the first when `from` is none of them). */
    after(from: string): string;
    /** moveOn points ep at the node after the one it uses, and says which it left and took. */
    moveOn(ep: {
        server: string;
    }): {
        from: string;
        to: string;
    };
}
/**
 * discoverNodes asks a node for its cluster's nodes (GET /nodes: base URLs, that node
 * first): [] from a node alone or an older server (404), null when it does not answer.
 */
export declare function discoverNodes(server: string, signal?: AbortSignal): Promise<string[] | null>;
/**
 * failsOver says whether an error means the node is lost or cannot serve now, so another
 * node should be tried: no answer, a connection lost or never made, or a server error. A
 * refusal (4xx), a room not started (404) and a full server with an LL-HLS alternate (503
 * with a Link) are the room's, the same on every node.
 */
export declare function failsOver(err: GlintError): boolean;
