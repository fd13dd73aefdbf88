import { GlintError } from './errors.js';
/** The part of hls.js the SDK uses. */
export interface HlsInstance {
    loadSource(url: string): void;
    attachMedia(media: HTMLMediaElement): void;
    on(event: string, fn: (event: string, data: any) => void): void;
    destroy(): void;
    latency?: number;
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
export declare class HlsPlayback {
    private readonly video;
    private readonly url;
    private hls;
    private frag;
    constructor(video: HTMLVideoElement, url: string);
    /** start plays the playlist and resolves when the first fragment is buffered. */
    start(load: HlsLoader, onFatal: (err: GlintError) => void, timeoutMs?: number): Promise<void>;
    /** frameTime is the capture time of the frame at media time t (seconds), if known. */
    frameTime(t: number): number | undefined;
    /** latencyMs is how far behind the live edge hls.js plays. */
    latencyMs(): number | undefined;
    destroy(): void;
}
