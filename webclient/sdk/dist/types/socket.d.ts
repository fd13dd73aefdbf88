import { Interaction } from './interaction.js';
import type { Endpoint } from './whip.js';
export declare class InteractionSocket {
    private readonly ep;
    readonly interaction: Interaction;
    private readonly stop;
    private running;
    constructor(ep: Endpoint, interaction?: Interaction);
    /** connect resolves when the first connection is open; it reconnects until close(). */
    connect(): Promise<void>;
    /** close ends the connection; the Interaction stays usable for another transport. */
    close(): void;
    private run;
}
