// Every promise of the SDK rejects with a GlintError: code says what went wrong, status and
// serverMessage what the server answered (when it answered).

/** The protocol's error codes (docs/PROTOCOL.md, Errors) and the SDK's own. */
export type ErrorCode =
  // the SDK's own
  | 'http' // the server answered an HTTP status the SDK cannot go on from
  | 'network' // no answer: the server is down or unreachable, or CORS refused it
  | 'timeout' // no answer in time
  | 'closed' // the player, publisher or connection was closed first
  | 'not_connected' // no interaction connection to send on
  | 'unsupported' // the browser lacks what is needed (WebRTC, MediaSource, a codec)
  | 'media' // camera, microphone or screen refused
  | 'ice' // the WebRTC connection could not be made or was lost
  // the server's, on the interaction connection
  | 'too_large'
  | 'bad_json'
  | 'bad_version'
  | 'unknown_type'
  | 'bad_payload'
  | 'forged_from'
  | 'wrong_room'
  | 'forbidden'
  | 'rate_limited'
  | 'slow_mode'
  | 'muted'
  | 'banned'
  | 'not_found'
  | 'too_low'
  | 'already_highest'
  | 'rejected'
  | 'conflict'
  | 'unavailable'
  | 'internal'
  | (string & {});

export class GlintError extends Error {
  override readonly name = 'GlintError';
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

  constructor(
    code: ErrorCode,
    message: string,
    extra: { status?: number; serverMessage?: string; retryAfter?: number; alternate?: string; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.status = extra.status;
    this.serverMessage = extra.serverMessage;
    this.retryAfter = extra.retryAfter;
    this.alternate = extra.alternate;
  }
}

/** asError turns anything thrown into a GlintError, keeping one that already is. */
export function asError(err: unknown, code: ErrorCode = 'network'): GlintError {
  if (err instanceof GlintError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new GlintError(code, message, { cause: err });
}
