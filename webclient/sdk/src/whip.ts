// WHIP (RFC 9725) and WHEP: POST the SDP offer to {server}/{whip|whep}/{room}, get 201 with
// the answer and the session's resource URL, PATCH trickled ICE candidates to it (RFC 8840
// fragments), DELETE it to leave. ICE servers come from the endpoint's `Link` headers, read
// with an OPTIONS request before the peer connection is made.

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

const GATHER_MS = 2000;
const CONNECT_MS = 10_000;
const TRICKLE_BATCH_MS = 20;

export function endpointUrl(ep: Endpoint, kind: 'whip' | 'whep', query?: URLSearchParams): string {
  const base = ep.server.replace(/\/+$/, '');
  const q = query && [...query.keys()].length ? `?${query}` : '';
  return `${base}/${kind}/${encodeURIComponent(ep.room)}${q}`;
}

function authHeaders(token: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

/**
 * parseLinks reads Link header values (several may be joined with commas): ICE servers
 * (rel="ice-server", with username and credential for TURN) and alternates.
 */
export function parseLinks(value: string | null): Links {
  const out: Links = { iceServers: [], alternates: [] };
  if (!value) return out;
  const link = /<([^>]*)>((?:\s*;\s*[A-Za-z0-9_-]+\s*=\s*(?:"[^"]*"|[^;,]*))*)/g;
  for (const m of value.matchAll(link)) {
    const params: Record<string, string> = {};
    for (const p of m[2].matchAll(/;\s*([A-Za-z0-9_-]+)\s*=\s*(?:"([^"]*)"|([^;,]*))/g)) {
      params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? '').trim();
    }
    if (params.rel === 'ice-server') {
      const s: RTCIceServer = { urls: m[1] };
      if (params.username !== undefined) s.username = params.username;
      if (params.credential !== undefined) s.credential = params.credential;
      out.iceServers.push(s);
    } else if (params.rel === 'alternate') {
      out.alternates.push(m[1]);
    }
  }
  return out;
}

/** httpError turns a refusal into a GlintError with the server's words and hints. */
export async function httpError(what: string, res: Response): Promise<GlintError> {
  const body = (await res.text().catch(() => '')).trim().slice(0, 500);
  const retry = Number(res.headers.get('Retry-After'));
  const alternate = parseLinks(res.headers.get('Link')).alternates[0];
  return new GlintError('http', `${what}: HTTP ${res.status}${body ? ` — ${body}` : ''}`, {
    status: res.status,
    serverMessage: body || undefined,
    retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined,
    alternate: alternate ? new URL(alternate, res.url || undefined).href : undefined,
  });
}

export async function request(url: string, init: RequestInit, what: string): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if (init.signal?.aborted) throw new GlintError('closed', `${what}: stopped`, { cause: err });
    throw new GlintError('network', `${what}: ${(err as Error).message} (server down, or another origin without CORS?)`, { cause: err });
  }
}

/**
 * discoverIceServers asks the endpoint (OPTIONS) for its ICE servers: [] if it lists none,
 * undefined if it did not answer (ask again next time).
 */
export async function discoverIceServers(ep: Endpoint, kind: 'whip' | 'whep', signal?: AbortSignal): Promise<RTCIceServer[] | undefined> {
  try {
    const res = await fetch(endpointUrl(ep, kind), { method: 'OPTIONS', headers: authHeaders(ep.token), signal });
    return res.ok ? parseLinks(res.headers.get('Link')).iceServers : undefined;
  } catch {
    return undefined;
  }
}

function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => pc.iceGatheringState === 'complete' && done();
    const timer = setTimeout(done, GATHER_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** A WHIP or WHEP session: its resource on the server. */
export class Session {
  private closed = false;
  private queued: RTCIceCandidate[] = [];
  private ended = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly resource: string,
    private etag: string | null,
    private readonly token: string | undefined,
    private readonly pc: RTCPeerConnection,
  ) {}

  /** trickle queues a local candidate (null: gathering ended) and sends a batch soon. */
  trickle(c: RTCIceCandidate | null): void {
    if (this.closed) return;
    if (c) this.queued.push(c);
    else this.ended = true;
    this.timer ??= setTimeout(() => void this.flush(), TRICKLE_BATCH_MS);
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const batch = this.queued.splice(0);
    const end = this.ended;
    if (this.closed || (!batch.length && !end)) return;
    const headers = authHeaders(this.token, { 'Content-Type': 'application/trickle-ice-sdpfrag' });
    if (this.etag) headers['If-Match'] = this.etag;
    // A server that does not take trickle (405/501) learns our address from the checks.
    await fetch(this.resource, { method: 'PATCH', headers, body: fragment(this.pc, batch, end) }).catch(() => {});
  }

  /** close ends the session on the server (DELETE); it never throws. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    fetch(this.resource, { method: 'DELETE', headers: authHeaders(this.token), keepalive: true }).catch(() => {});
  }
}

/** fragment is an RFC 8840 trickle-ice-sdpfrag with the candidates, grouped by m-section. */
export function fragment(pc: RTCPeerConnection, candidates: RTCIceCandidate[], end: boolean): string {
  const sdp = pc.localDescription?.sdp ?? '';
  const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)?.[1];
  const pwd = /a=ice-pwd:(\S+)/.exec(sdp)?.[1];
  const lines: string[] = [];
  if (ufrag) lines.push(`a=ice-ufrag:${ufrag}`);
  if (pwd) lines.push(`a=ice-pwd:${pwd}`);
  const byMid = new Map<string, string[]>();
  for (const c of candidates) {
    const mid = c.sdpMid ?? '0';
    if (!byMid.has(mid)) byMid.set(mid, []);
    byMid.get(mid)!.push(`a=${c.candidate}`);
  }
  if (end && !byMid.size) byMid.set(firstMid(sdp), []);
  for (const [mid, cands] of byMid) {
    lines.push('m=audio 9 UDP/TLS/RTP/SAVPF 0', `a=mid:${mid}`, ...cands);
    if (end) lines.push('a=end-of-candidates');
  }
  return `${lines.join('\r\n')}\r\n`;
}

function firstMid(sdp: string): string {
  return /a=mid:(\S+)/.exec(sdp)?.[1] ?? '0';
}

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
export async function negotiate(kind: 'whip' | 'whep', ep: Endpoint, pc: RTCPeerConnection, opts: NegotiateOptions = {}): Promise<Session> {
  const trickle = opts.trickle ?? true;
  const early: RTCIceCandidate[] = [];
  let session: Session | undefined;
  let gatheringDone = false;
  pc.addEventListener('icecandidate', (e) => {
    if (session) session.trickle(e.candidate);
    else if (e.candidate) early.push(e.candidate);
    else gatheringDone = true;
  });
  await pc.setLocalDescription(await pc.createOffer());
  if (!trickle) await gathered(pc);

  const url = endpointUrl(ep, kind, opts.query);
  const offer = pc.localDescription!.sdp;
  const what = `POST ${url}`;
  const res = await request(
    url,
    { method: 'POST', headers: authHeaders(ep.token, { ...opts.headers, 'Content-Type': 'application/sdp' }), body: offer, signal: opts.signal },
    what,
  );
  if (res.status !== 201) throw await httpError(what, res);
  const location = res.headers.get('Location');
  if (!location) throw new GlintError('http', `${what}: 201 without a readable Location header (a server on another origin must expose it)`, { status: 201 });
  session = new Session(new URL(location, url).href, res.headers.get('ETag'), ep.token, pc);
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  } catch (err) {
    session.close();
    throw new GlintError('http', `${what}: the server's SDP answer was refused: ${(err as Error).message}`, { status: 201, cause: err });
  }
  if (trickle) {
    for (const c of early) if (!offer.includes(c.candidate)) session.trickle(c);
    if (gatheringDone) session.trickle(null);
  }
  return session;
}

/** connected resolves once pc's ICE and DTLS are up, and rejects when they fail, take
 * longer than CONNECT_MS or signal aborts. */
export function connected(pc: RTCPeerConnection, what: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new GlintError('ice', `${what}: not connected in ${CONNECT_MS / 1000} s`)), CONNECT_MS);
    const check = () => {
      if (pc.connectionState === 'connected') {
        clearTimeout(t);
        resolve();
      } else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
        clearTimeout(t);
        reject(new GlintError('ice', `${what}: the connection failed`));
      }
    };
    pc.addEventListener('connectionstatechange', check);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    check();
  });
}
