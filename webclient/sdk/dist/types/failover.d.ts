import type { GlintError } from './errors.js';
/** Nodes is the ring of base URLs used in turn: `server`, then `servers`. */
export declare class Nodes {
    private readonly list;
    constructor(server: string, servers?: string[]);
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
 * failsOver says whether an error means the node is lost or cannot serve now, so another
 * node should be tried: no answer, a connection lost or never made, or a server error. A
 * refusal (4xx), a room not started (404) and a full server with an LL-HLS alternate (503
 * with a Link) are the room's, the same on every node.
 */
export declare function failsOver(err: GlintError): boolean;
