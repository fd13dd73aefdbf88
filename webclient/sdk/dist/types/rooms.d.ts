import { type Endpoint } from './whip.js';
/** A room's metadata, as the directory shows it. */
export interface RoomMetadata {
    title: string;
    /** One of the platform's categories (roomCategories). */
    category: string;
    tags?: string[];
    thumbnailUrl?: string;
    /** Set by the server. */
    updatedAt?: string;
}
/**
 * setRoomMetadata replaces the room's metadata (PUT /rooms/{room}/metadata; the token needs
 * roomAdmin for the room) and resolves with what the server kept. It rejects with a
 * {@link GlintError} carrying the server's status and message: 400 names the field at fault.
 */
export declare function setRoomMetadata(ep: Endpoint, md: RoomMetadata, signal?: AbortSignal): Promise<RoomMetadata>;
/** roomCategories lists the platform's categories, in its order (GET /directory/categories). */
export declare function roomCategories(server: string, signal?: AbortSignal): Promise<string[]>;
