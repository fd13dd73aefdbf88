import { GlintError } from './errors.js';
/** The part of hls.js the SDK uses. */
export interface HlsInstance {
    loadSource(url: string): void;
    attachMedia(media: HTMLMediaElement): void;
    on(event: string, fn: (event: string, data: any) => void): void;
    destroy(): void;
    /** How far behind the live edge playback is, s. */
    latency?: number;
    /** How far behind the live edge hls.js aims to play (PART-HOLD-BACK in low-latency mode), s. */
    targetLatency?: number;
    /** The media time hls.js aims to play at now (the live edge less targetLatency). */
    liveSyncPosition?: number | null;
}
export interface HlsConstructor {
    new (config?: Record<string, unknown>): HlsInstance;
    isSupported(): boolean;
    Events: Record<string, string>;
}
export type HlsLoader = () => Promise<HlsConstructor>;
/**
 * defaultHlsLoader loads hls.min.mjs from beside the SDK (the server serves both at
 * /sdk/). Bundlers: pass `hls: () => import('hls.js').then((m) => m.default)` instead.
 */
export declare const defaultHlsLoader: HlsLoader;
/** The hls.js settings for low latency that Glint's own tests measured (docs/LLHLS.md). */
export declare const HLS_CONFIG: Record<string, unknown>;
/**
 * RESYNC_S is how far over hls.js's target latency playback may stay (for RESYNC_CHECKS
 * checks RESYNC_EVERY_MS apart) before the player jumps to the target. hls.js takes its
 * start position from the playlist it loads at join but plays only once the parts from the
 * segment's keyframe are in, ~0.3 s later, and never makes that up: it plays faster only
 * with over a second buffered, which a 0.6 s hold-back never has. Glass to glass on a 2-core
 * machine: ~0.74 s with the jump, 0.84-0.96 s without (docs/BENCHMARKS.md).
 */
export declare const RESYNC_S = 0.15;
export declare class HlsPlayback {
    private readonly video;
    private readonly url;
    private readonly resyncS;
    private hls;
    private frag;
    private resyncTimer;
    /** Jumps to the live edge so far (resync). */
    resyncs: number;
    /** resyncS: see RESYNC_S; 0 leaves the position to hls.js. */
    constructor(video: HTMLVideoElement, url: string, resyncS?: number);
    /** start plays the playlist and resolves when the first fragment is buffered. */
    start(load: HlsLoader, onFatal: (err: GlintError) => void, timeoutMs?: number): Promise<void>;
    private behind;
    private resync;
    /** frameTime is the capture time of the frame at media time t (seconds), if known. */
    frameTime(t: number): number | undefined;
    /** latencyMs is how far behind the live edge hls.js plays. */
    latencyMs(): number | undefined;
    destroy(): void;
}
