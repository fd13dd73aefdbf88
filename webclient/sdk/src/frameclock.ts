// Events on their frame. Every server event carries mediaTime, the capture time (unix ms on
// the host's clock) of the frame it belongs to. The player knows the capture time of the
// frame on screen: over WebRTC from requestVideoFrameCallback's rtpTimestamp and the
// server's media.clock mapping, over LL-HLS from the fragment's PROGRAM-DATE-TIME. An event
// is held until its frame is shown (within half a frame), or shown at once and counted late
// when its frame has already gone by.

import type { Envelope, MediaClock } from './protocol.js';

/** captureTime maps an RTP timestamp to capture time through a media.clock mapping. */
export function captureTime(rtpTimestamp: number, clock: MediaClock): number {
  // The difference modulo 2^32, as a signed 32-bit value (docs/PROTOCOL.md, Media time).
  const diff = ((rtpTimestamp - clock.rtpTimestamp) << 0) | 0;
  return clock.mediaTime + (diff / clock.clockRate) * 1000;
}

export interface FrameEvent {
  envelope: Envelope;
  /** The capture time of the frame on screen when it was shown. */
  frameTime: number | undefined;
  /** It arrived after its frame had been shown. */
  late: boolean;
  /**
   * It was held for its frame, but the player went past that frame without showing it (an
   * LL-HLS player that jumped to the live edge or over a gap): shown on the frame it landed on.
   */
  skipped: boolean;
  /** How far (ms) the frame on screen was from the event's own time when it was shown. */
  offsetMs: number | undefined;
}

export interface FrameStats {
  shown: number;
  late: number;
  /** Held for a frame the player went past without showing (see FrameEvent.skipped). */
  skipped: number;
  /** Released by the hold limit because no frame came (a hidden tab, a frozen picture). */
  expired: number;
}

export interface FrameSchedulerOptions {
  /** Half a frame at 30 fps by default: how near the frame must be. */
  toleranceMs?: number;
  /** The longest an event waits for its frame (default 3 s). */
  maxHoldMs?: number;
}

/** More media than this between two frames shown is a jump, not a frame interval (10 fps). */
const JUMP_MS = 100;

/**
 * FrameScheduler holds events until the frame they belong to is on screen. Feed it the
 * capture time of every frame shown (onFrame) and every event (push).
 */
export class FrameScheduler {
  private readonly queue: { env: Envelope; at: number }[] = [];
  private frameTime: number | undefined;
  private readonly tolerance: number;
  private readonly maxHold: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  readonly stats: FrameStats = { shown: 0, late: 0, skipped: 0, expired: 0 };

  constructor(
    private readonly deliver: (e: FrameEvent) => void,
    opts: FrameSchedulerOptions = {},
  ) {
    this.tolerance = opts.toleranceMs ?? 16.7;
    this.maxHold = opts.maxHoldMs ?? 3000;
  }

  /** push takes an event: shown now if its frame has been shown, held otherwise. */
  push(env: Envelope, at = Date.now()): void {
    const t = env.mediaTime;
    // Not tied to a frame, or no picture to wait for (not started): shown now.
    if (t === undefined || !this.timer) return this.show(env, false, false);
    if (this.frameTime !== undefined && this.frameTime >= t - this.tolerance) {
      this.show(env, this.frameTime > t + this.tolerance, false);
      return;
    }
    let i = this.queue.length;
    while (i > 0 && (this.queue[i - 1].env.mediaTime ?? 0) > t) i--;
    this.queue.splice(i, 0, { env, at });
  }

  /** onFrame is told the capture time of the frame now on screen. */
  onFrame(frameTime: number): void {
    // A jump over more than JUMP_MS of media since the last frame shown: the player went
    // past frames (a seek to the live edge, over a gap). Not a low frame rate's interval.
    const jumped = this.frameTime !== undefined && frameTime - this.frameTime > JUMP_MS;
    this.frameTime = frameTime;
    while (this.queue.length && (this.queue[0].env.mediaTime ?? 0) <= frameTime + this.tolerance) {
      const env = this.queue.shift()!.env;
      this.show(env, false, jumped && (env.mediaTime ?? 0) < frameTime - this.tolerance);
    }
  }

  /** start releases events whose frame never comes, checking every 100 ms. */
  start(): void {
    this.timer ??= setInterval(() => this.expire(Date.now()), 100);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  /** reset forgets the frame clock (a new connection or a new mapping is coming). */
  reset(): void {
    this.frameTime = undefined;
  }

  expire(at: number): void {
    for (let i = 0; i < this.queue.length; ) {
      if (at - this.queue[i].at >= this.maxHold) {
        const [item] = this.queue.splice(i, 1);
        this.stats.expired++;
        this.show(item.env, false, false);
      } else i++;
    }
  }

  private show(env: Envelope, late: boolean, skipped: boolean): void {
    this.stats.shown++;
    if (late) this.stats.late++;
    if (skipped) this.stats.skipped++;
    const offsetMs = this.frameTime !== undefined && env.mediaTime !== undefined ? this.frameTime - env.mediaTime : undefined;
    this.deliver({ envelope: env, frameTime: this.frameTime, late, skipped, offsetMs });
  }
}
