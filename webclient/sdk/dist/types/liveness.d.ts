import type { Interaction } from './interaction.js';
export declare function watchLink(interaction: Interaction, deadAfterMs: number, open: () => boolean, dead: () => void): () => void;
