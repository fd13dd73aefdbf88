import { GlintError } from './errors.js';
export interface Endpoint {
    /** The Glint server's base URL, e.g. https://live.example.com (no trailing path). */
    server: string;
    /** The room name. */
    room: string;
    /** An access token (LiveKit-style JWT); none for an anonymous viewer. */
    token?: string;
}
export interface Links {
    iceServers: RTCIceServer[];
    /** rel="alternate" targets: the LL-HLS playlist a 503 points to. */
    alternates: string[];
}
export declare function endpointUrl(ep: Endpoint, kind: 'whip' | 'whep', query?: URLSearchParams): string;
/**
 * parseLinks reads Link header values (several may be joined with commas): ICE servers
 * (rel="ice-server", with username and credential for TURN) and alternates.
 */
export declare function parseLinks(value: string | null): Links;
/** httpError turns a refusal into a GlintError with the server's words and hints. */
export declare function httpError(what: string, res: Response): Promise<GlintError>;
export declare function request(url: string, init: RequestInit, what: string): Promise<Response>;
/**
 * discoverIceServers asks the endpoint (OPTIONS) for its ICE servers: [] if it lists none,
 * undefined if it did not answer (ask again next time).
 */
export declare function discoverIceServers(ep: Endpoint, kind: 'whip' | 'whep', signal?: AbortSignal): Promise<RTCIceServer[] | undefined>;
/** A WHIP or WHEP session: its resource on the server. */
export declare class Session {
    readonly resource: string;
    private etag;
    private readonly token;
    private readonly pc;
    private closed;
    private queued;
    private ended;
    private timer;
    constructor(resource: string, etag: string | null, token: string | undefined, pc: RTCPeerConnection);
    /** trickle queues a local candidate (null: gathering ended) and sends a batch soon. */
    trickle(c: RTCIceCandidate | null): void;
    private flush;
    /** close ends the session on the server (DELETE); it never throws. */
    close(): void;
}
/** fragment is an RFC 8840 trickle-ice-sdpfrag with the candidates, grouped by m-section. */
export declare function fragment(pc: RTCPeerConnection, candidates: RTCIceCandidate[], end: boolean): string;
export interface NegotiateOptions {
    query?: URLSearchParams;
    /** Further request headers (Prefer: wait=N to wait for a room that is not open yet). */
    headers?: Record<string, string>;
    signal?: AbortSignal;
    /** Send candidates as they are found (default) instead of waiting for all of them. */
    trickle?: boolean;
}
/**
 * negotiate offers pc (its transceivers and data channel already added) to the endpoint
 * and applies the answer. It resolves to the session, which must be closed to leave.
 */
export declare function negotiate(kind: 'whip' | 'whep', ep: Endpoint, pc: RTCPeerConnection, opts?: NegotiateOptions): Promise<Session>;
/** connected resolves once pc's ICE and DTLS are up, and rejects when they fail, take
 * longer than CONNECT_MS or signal aborts. */
export declare function connected(pc: RTCPeerConnection, what: string, signal: AbortSignal): Promise<void>;
