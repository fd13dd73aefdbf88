// @glint/sdk: publish, play and interact with a Glint room. See docs/SDK.md.

export { Player, type PlayerOptions, type PlayerEvents, type PlayerState } from './player.js';
export { Publisher, type PublisherOptions, type PublisherEvents, type PublisherState, type VideoCodec, type LayerStats, SIMULCAST } from './publisher.js';
export { Interaction, type InteractionEvents, type InteractionOptions, type Transport, uniqueId } from './interaction.js';
export { InteractionSocket, type InteractionSocketOptions } from './socket.js';
export { Emitter } from './emitter.js';
export { GlintError, type ErrorCode } from './errors.js';
export { type FrameEvent, type FrameStats, FrameScheduler, captureTime } from './frameclock.js';
export { type BackoffOptions, backoffDelay } from './backoff.js';
export { Nodes, discoverNodes, failsOver } from './failover.js';
export { type Endpoint, parseLinks } from './whip.js';
export { type RoomMetadata, setRoomMetadata, roomCategories } from './rooms.js';
export type { HlsLoader, HlsConstructor } from './hls.js';
export type { PlayerStats } from './stats.js';
export type * from './protocol.js';
