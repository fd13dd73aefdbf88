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
export declare class InteractionSocket {
    readonly interaction: Interaction;
    private readonly stop;
    private running;
    private readonly ep;
    private readonly nodes;
    private readonly opts;
    constructor(ep: Endpoint, interaction?: Interaction, opts?: InteractionSocketOptions);
    /** server is the node connected to (or tried next): the endpoint's, or another after a failover. */
    get server(): string;
    /** connect resolves when the first connection is open; it reconnects until close(). */
    connect(): Promise<void>;
    /** close ends the connection; the Interaction stays usable for another transport. */
    close(): void;
    private run;
    private serve;
}
