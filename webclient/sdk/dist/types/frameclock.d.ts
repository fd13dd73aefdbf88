import type { Envelope, MediaClock } from './protocol.js';
/** captureTime maps an RTP timestamp to capture time through a media.clock mapping. */
export declare function captureTime(rtpTimestamp: number, clock: MediaClock): number;
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
/**
 * FrameScheduler holds events until the frame they belong to is on screen. Feed it the
 * capture time of every frame shown (onFrame) and every event (push).
 */
export declare class FrameScheduler {
    private readonly deliver;
    private readonly queue;
    private frameTime;
    private readonly tolerance;
    private readonly maxHold;
    private timer;
    readonly stats: FrameStats;
    constructor(deliver: (e: FrameEvent) => void, opts?: FrameSchedulerOptions);
    /** push takes an event: shown now if its frame has been shown, held otherwise. */
    push(env: Envelope, at?: number): void;
    /** onFrame is told the capture time of the frame now on screen. */
    onFrame(frameTime: number): void;
    /** start releases events whose frame never comes, checking every 100 ms. */
    start(): void;
    stop(): void;
    /** reset forgets the frame clock (a new connection or a new mapping is coming). */
    reset(): void;
    expire(at: number): void;
    private show;
}
