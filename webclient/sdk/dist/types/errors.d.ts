/** The protocol's error codes (docs/PROTOCOL.md, Errors) and the SDK's own. */
export type ErrorCode = 'http' | 'network' | 'timeout' | 'closed' | 'not_connected' | 'unsupported' | 'media' | 'ice' | 'too_large' | 'bad_json' | 'bad_version' | 'unknown_type' | 'bad_payload' | 'forged_from' | 'wrong_room' | 'forbidden' | 'rate_limited' | 'slow_mode' | 'muted' | 'banned' | 'not_found' | 'too_low' | 'already_highest' | 'rejected' | 'conflict' | 'unavailable' | 'internal' | (string & {});
export declare class GlintError extends Error {
    readonly name = "GlintError";
    /** What went wrong; switch on this. */
    readonly code: ErrorCode;
    /** The HTTP status, for code 'http' (and 'network' never). */
    readonly status?: number;
    /** The server's own words (an HTTP body or the protocol error's message). */
    readonly serverMessage?: string;
    /** Seconds the server asked to wait (Retry-After), when it said. */
    readonly retryAfter?: number;
    /** The LL-HLS playlist a WHEP refusal pointed to (a `Link` with rel="alternate"). */
    readonly alternate?: string;
    constructor(code: ErrorCode, message: string, extra?: {
        status?: number;
        serverMessage?: string;
        retryAfter?: number;
        alternate?: string;
        cause?: unknown;
    });
}
/** asError turns anything thrown into a GlintError, keeping one that already is. */
export declare function asError(err: unknown, code?: ErrorCode): GlintError;
