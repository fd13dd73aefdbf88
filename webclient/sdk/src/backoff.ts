// Reconnect delays: exponential, capped, with jitter so that the viewers of a restarted
// server do not all come back in the same millisecond.

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

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 250, maxMs: 4000, factor: 2, jitter: 0.5 };

/**
 * backoffDelay is the wait before retry number `attempt` (0 for the first): the capped
 * exponential delay, of which `jitter` is drawn at random. A server's Retry-After (seconds)
 * is a floor.
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = {}, retryAfterS?: number, random = Math.random): number {
  const o = { ...DEFAULT_BACKOFF, ...opts };
  const base = Math.min(o.maxMs, o.initialMs * o.factor ** Math.max(0, attempt));
  const delay = base * (1 - o.jitter) + base * o.jitter * random();
  return Math.max(delay, (retryAfterS ?? 0) * 1000);
}

/** sleep resolves after ms, or rejects with the signal's reason once it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
