import { type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { GlintError } from './errors.js';
import { type FrameEvent, type FrameSchedulerOptions } from './frameclock.js';
import { type HlsLoader } from './hls.js';
import { Interaction } from './interaction.js';
import type { Layer, RoomQuality, RoomState } from './protocol.js';
import { type PlayerStats } from './stats.js';
import { type Endpoint } from './whip.js';
export type PlayerState = 'idle' | 'connecting' | 'waiting' | 'live' | 'ended' | 'reconnecting' | 'failed' | 'closed';
export interface PlayerOptions extends Endpoint {
    /** The element the picture plays in. */
    video: HTMLVideoElement;
    /** The highest simulcast layer to receive (q, h or f); the server picks below it. */
    layer?: Layer;
    /** Extra delay, ms, the viewer chose (a bigger jitter buffer for a bad network). */
    extraDelayMs?: number;
    /**
     * 'auto' (default): LL-HLS when WebRTC cannot connect or the server is full (503 with a
     * Link), back to WebRTC when it can. 'never': WebRTC only. 'always': LL-HLS only.
     */
    fallback?: 'auto' | 'never' | 'always';
    /** Loads hls.js for the fallback; by default from beside the SDK. */
    hls?: HlsLoader;
    /** The LL-HLS playlist; by default the server's /hls/{room}/index.m3u8. */
    hlsUrl?: string;
    /**
     * On LL-HLS, how far (s) playback may stay behind hls.js's target latency before the
     * player jumps to it (default 0.15; 0 leaves it to hls.js, which never catches up the
     * ~0.3 s it loses at join).
     */
    hlsResyncS?: number;
    /**
     * More nodes of a Glint cluster (base URLs, like `server`): when the node playing is lost
     * or does not answer, the player goes on from the next of them, in turn. Any node of a
     * cluster plays any of its rooms (docs/CLUSTER.md).
     */
    servers?: string[];
    /**
     * Learn the cluster's other nodes from the node playing (GET /nodes) each time it
     * connects, and fail over to them too (default true).
     */
    discover?: boolean;
    /** Reconnect delays (default 250 ms doubling to 2 s, half of each random). */
    reconnect?: BackoffOptions;
    /** ICE servers; by default what the server's WHEP endpoint lists in its Link headers. */
    iceServers?: RTCIceServer[];
    /** How often 'stats' fires, ms (default 1000; 0 turns it off). */
    statsIntervalMs?: number;
    /** While on LL-HLS, how often to try WebRTC again, ms (default 30000). */
    webrtcRetryMs?: number;
    /** A connection that says nothing for this long is given up, ms (default 2500). */
    deadAfterMs?: number;
    /** How events wait for their frame. */
    frameEvents?: FrameSchedulerOptions;
}
export interface PlayerEvents {
    state: PlayerState;
    /** The host is live (again). */
    live: RoomState;
    /** The host stopped ('stopped') or vanished ('gone'). */
    ended: RoomState;
    /** The room has not started; the player tries again by itself. */
    waiting: {
        retryInMs: number;
        reason: string;
    };
    reconnecting: {
        attempt: number;
        delayMs: number;
        error: GlintError;
    };
    /** The player moved to another node of the cluster (`servers`) after `error`. */
    failover: {
        from: string;
        to: string;
        error: GlintError;
    };
    /** Playing LL-HLS instead of WebRTC (or, with url '', back on WebRTC). */
    fallback: {
        reason: string;
        url: string;
    };
    /** The picture's size changed (a simulcast layer switch). */
    layer: {
        width: number;
        height: number;
    };
    /** The server reduced what viewers get of the host (it cannot keep up), or restored it. */
    quality: RoomQuality;
    stats: PlayerStats;
    error: GlintError;
}
export declare class Player extends Emitter<PlayerEvents> {
    readonly interaction: Interaction;
    state: PlayerState;
    /** What plays now. */
    mode: 'webrtc' | 'hls' | null;
    /** The capture time (host clock, unix ms) of the frame on screen. */
    frameTime: number | undefined;
    private readonly opts;
    private readonly nodes;
    private readonly abort;
    private readonly scheduler;
    private clock;
    private conn;
    private hls;
    private iceServers;
    private statsTimer;
    private statsPrev;
    private size;
    private readonly frameListeners;
    private started;
    private roomMissing;
    private mediaUp;
    private roomMissingRetries;
    constructor(opts: PlayerOptions);
    private readonly onPageHide;
    /**
     * play starts playing and keeps playing until close(): it reconnects, waits for the host
     * and falls back by itself. It resolves once the first connection is made (or the room
     * is found not started yet) and rejects only when the server refuses for good.
     */
    play(): Promise<void>;
    /** onFrameEvent calls cb when the frame an event belongs to is on screen. */
    onFrameEvent(cb: (e: FrameEvent) => void): () => void;
    /** server is the node the player plays from (or tries next): `server`, or one of `servers` after a failover. */
    get server(): string;
    /** peerConnection is the WebRTC connection playing now; null between connections and on LL-HLS. */
    get peerConnection(): RTCPeerConnection | null;
    /** frameStats counts events shown on their frame, late, and without a frame. */
    get frameStats(): {
        shown: number;
        late: number;
        skipped: number;
        expired: number;
    };
    /** setLayer caps the simulcast layer (also across reconnects). */
    setLayer(layer: Layer): Promise<void>;
    /** setExtraDelay holds the picture this much longer (ms) for a smoother play. */
    setExtraDelay(ms: number): void;
    /** close stops playing and leaves the room. */
    close(): void;
    private setState;
    private onRoom;
    private mediaIsUp;
    private run;
    private failOver;
    private hlsUrl;
    private openWebRTC;
    private holdWebRTC;
    private runHls;
    private retryWebRTC;
    private watchFrames;
    private startStats;
    /** stats reads the current quality figures. */
    stats(): Promise<PlayerStats>;
    private sampleStats;
}
