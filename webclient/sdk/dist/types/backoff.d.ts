export interface BackoffOptions {
    /** The first delay, ms (default 250). */
    initialMs?: number;
    /** The longest delay, ms (default 4000). */
    maxMs?: number;
    /** Growth per attempt (default 2). */
    factor?: number;
    /** Share of each delay that is random, 0..1 (default 0.5). */
    jitter?: number;
}
export declare const DEFAULT_BACKOFF: Required<BackoffOptions>;
/**
 * backoffDelay is the wait before retry number `attempt` (0 for the first): the capped
 * exponential delay, of which `jitter` is drawn at random. A server's Retry-After (seconds)
 * is a floor.
 */
export declare function backoffDelay(attempt: number, opts?: BackoffOptions, retryAfterS?: number, random?: () => number): number;
/** sleep resolves after ms, or rejects with the signal's reason once it aborts. */
export declare function sleep(ms: number, signal?: AbortSignal): Promise<void>;
