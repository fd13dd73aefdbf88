// LL-HLS playback for the fallback, with hls.js (an optional peer dependency, loaded only
// when a player falls back). The capture time of the frame on screen comes from the playing
// fragment's PROGRAM-DATE-TIME, which Glint sets to the host's capture clock.

import { GlintError } from './errors.js';

/** The part of hls.js the SDK uses. */
export interface HlsInstance {
  loadSource(url: string): void;
  attachMedia(media: HTMLMediaElement): void;
  on(event: string, fn: (event: string, data: any) => void): void; // eslint-disable-line @typescript-eslint/no-explicit-any
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
export const defaultHlsLoader: HlsLoader = async () => {
  const url = new URL('./hls.min.mjs', import.meta.url).href;
  const mod = await import(/* @vite-ignore */ url);
  return mod.default as HlsConstructor;
};

/** The hls.js settings for low latency that Glint's own tests measured (docs/LLHLS.md). */
export const HLS_CONFIG: Record<string, unknown> = { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.1, backBufferLength: 10 };

/**
 * RESYNC_S is how far over hls.js's target latency playback may stay (for RESYNC_CHECKS
 * checks RESYNC_EVERY_MS apart) before the player jumps to the target. hls.js takes its
 * start position from the playlist it loads at join but plays only once the parts from the
 * segment's keyframe are in, ~0.3 s later, and never makes that up: it plays faster only
 * with over a second buffered, which a 0.6 s hold-back never has. Glass to glass on a 2-core
 * machine: ~0.74 s with the jump, 0.84-0.96 s without (docs/BENCHMARKS.md).
 */
export const RESYNC_S = 0.15;
const RESYNC_EVERY_MS = 250;
const RESYNC_CHECKS = 2;

export class HlsPlayback {
  private hls: HlsInstance | null = null;
  private frag: { programDateTime?: number | null; start: number } | null = null;
  private resyncTimer: ReturnType<typeof setInterval> | undefined;
  /** Jumps to the live edge so far (resync). */
  resyncs = 0;

  /** resyncS: see RESYNC_S; 0 leaves the position to hls.js. */
  constructor(
    private readonly video: HTMLVideoElement,
    private readonly url: string,
    private readonly resyncS = RESYNC_S,
  ) {}

  /** start plays the playlist and resolves when the first fragment is buffered. */
  async start(load: HlsLoader, onFatal: (err: GlintError) => void, timeoutMs = 15_000): Promise<void> {
    let Hls: HlsConstructor;
    try {
      Hls = await load();
    } catch (err) {
      throw new GlintError('unsupported', `LL-HLS fallback: hls.js could not be loaded: ${(err as Error).message}`, { cause: err });
    }
    if (!Hls?.isSupported?.()) throw new GlintError('unsupported', 'LL-HLS fallback: this browser has no MediaSource');
    const hls = (this.hls = new Hls(HLS_CONFIG));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new GlintError('timeout', `LL-HLS: nothing buffered from ${this.url} in ${timeoutMs} ms`)), timeoutMs);
      hls.on(Hls.Events.FRAG_BUFFERED, () => {
        clearTimeout(timer);
        resolve();
      });
      hls.on(Hls.Events.ERROR, (_e, data) => {
        if (!data?.fatal) return;
        const status = data.response?.code;
        const err = new GlintError(status ? 'http' : 'network', `LL-HLS: ${data.details}${status ? ` (HTTP ${status})` : ''}`, { status: status || undefined });
        clearTimeout(timer);
        reject(err);
        onFatal(err);
      });
      hls.on(Hls.Events.FRAG_CHANGED, (_e, data) => {
        this.frag = data.frag;
      });
      hls.loadSource(this.url);
      hls.attachMedia(this.video);
    });
    await this.video.play().catch(() => {}); // autoplay policy: the page's own play button takes over
    if (this.resyncS > 0) this.resyncTimer = setInterval(() => this.resync(), RESYNC_EVERY_MS);
  }

  // resync jumps to hls.js's target position when playback has stayed behind it by more
  // than resyncS and that position is buffered: at join (see RESYNC_S), and after a stall.
  private behind = 0;
  private resync(): void {
    const hls = this.hls;
    const v = this.video;
    if (!hls || v.paused || v.seeking || typeof hls.latency !== 'number' || typeof hls.targetLatency !== 'number') return;
    this.behind = hls.latency - hls.targetLatency > this.resyncS ? this.behind + 1 : 0;
    const to = hls.liveSyncPosition;
    if (this.behind < RESYNC_CHECKS || to == null || !(to > v.currentTime) || !bufferedAt(v, to)) return;
    v.currentTime = to;
    this.resyncs++;
    this.behind = 0;
  }

  /** frameTime is the capture time of the frame at media time t (seconds), if known. */
  frameTime(t: number): number | undefined {
    const f = this.frag;
    if (!f || f.programDateTime == null) return undefined;
    return f.programDateTime + (t - f.start) * 1000;
  }

  /** latencyMs is how far behind the live edge hls.js plays. */
  latencyMs(): number | undefined {
    const l = this.hls?.latency;
    return typeof l === 'number' && Number.isFinite(l) ? l * 1000 : undefined;
  }

  destroy(): void {
    clearInterval(this.resyncTimer);
    this.hls?.destroy();
    this.hls = null;
  }
}

/** bufferedAt reports whether the element has media buffered at t and a little after it. */
function bufferedAt(v: HTMLMediaElement, t: number): boolean {
  const r = v.buffered;
  for (let i = 0; i < r.length; i++) if (t >= r.start(i) && t < r.end(i) - 0.1) return true;
  return false;
}
