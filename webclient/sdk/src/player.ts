// The player: WHEP with automatic reconnect, LL-HLS fallback and back, room state, stats,
// and events shown on their frame. One Player plays one room into one <video>.

import { type BackoffOptions, backoffDelay, sleep } from './backoff.js';
import { openDataChannel } from './channel.js';
import { Emitter } from './emitter.js';
import { GlintError, asError } from './errors.js';
import { Nodes, failsOver } from './failover.js';
import { type FrameEvent, FrameScheduler, type FrameSchedulerOptions, captureTime } from './frameclock.js';
import { type HlsLoader, HlsPlayback, defaultHlsLoader } from './hls.js';
import { Interaction } from './interaction.js';
import { watchLink } from './liveness.js';
import { InteractionSocket } from './socket.js';
import type { Layer, MediaClock, RoomQuality, RoomState } from './protocol.js';
import { type PlayerStats, webrtcStats } from './stats.js';
import { type Endpoint, type Session, connected, discoverIceServers, negotiate } from './whip.js';

export type PlayerState =
  | 'idle' // not started
  | 'connecting' // the first connection is being made
  | 'waiting' // connected, or retrying, until a host goes live (the room has not started)
  | 'live' // the host is sending and the picture plays
  | 'ended' // the host stopped or went away; the player waits for it to come back
  | 'reconnecting' // the connection was lost; a new one is being made
  | 'failed' // refused for good (a bad token, a bad request): see the 'error' event
  | 'closed'; // close() was called

export interface PlayerOptions extends Endpoint {
  /** The element the picture plays in. */
  video: HTMLVideoElement;
  /** The highest simulcast layer to receive (q, h or f); the server picks below it. */
  layer?: Layer;
  /** Extra delay, ms, the viewer chose (a bigger jitter buffer for a bad network). */
  extraDelayMs?: number;
  /**
   * 'auto' (default): LL-HLS when WebRTC cannot connect or the server is full (503 with a
   * Link), back to WebRTC when it can. 'never': WebRTC only. 'always': LL-HLS only.
   */
  fallback?: 'auto' | 'never' | 'always';
  /** Loads hls.js for the fallback; by default from beside the SDK. */
  hls?: HlsLoader;
  /** The LL-HLS playlist; by default the server's /hls/{room}/index.m3u8. */
  hlsUrl?: string;
  /**
   * On LL-HLS, how far (s) playback may stay behind hls.js's target latency before the
   * player jumps to it (default 0.15; 0 leaves it to hls.js, which never catches up the
   * ~0.3 s it loses at join).
   */
  hlsResyncS?: number;
  /**
   * More nodes of a Glint cluster (base URLs, like `server`): when the node playing is lost
   * or does not answer, the player goes on from the next of them, in turn. Any node of a
   * cluster plays any of its rooms (docs/CLUSTER.md).
   */
  servers?: string[];
  /**
   * Learn the cluster's other nodes from the node playing (GET /nodes) each time it
   * connects, and fail over to them too (default true).
   */
  discover?: boolean;
  /** Reconnect delays (default 250 ms doubling to 2 s, half of each random). */
  reconnect?: BackoffOptions;
  /** ICE servers; by default what the server's WHEP endpoint lists in its Link headers. */
  iceServers?: RTCIceServer[];
  /** How often 'stats' fires, ms (default 1000; 0 turns it off). */
  statsIntervalMs?: number;
  /** While on LL-HLS, how often to try WebRTC again, ms (default 30000). */
  webrtcRetryMs?: number;
  /** A connection that says nothing for this long is given up, ms (default 2500). */
  deadAfterMs?: number;
  /** How events wait for their frame. */
  frameEvents?: FrameSchedulerOptions;
}

export interface PlayerEvents {
  state: PlayerState;
  /** The host is live (again). */
  live: RoomState;
  /** The host stopped ('stopped') or vanished ('gone'). */
  ended: RoomState;
  /** The room has not started; the player tries again by itself. */
  waiting: { retryInMs: number; reason: string };
  reconnecting: { attempt: number; delayMs: number; error: GlintError };
  /** The player moved to another node of the cluster (`servers`) after `error`. */
  failover: { from: string; to: string; error: GlintError };
  /** Playing LL-HLS instead of WebRTC (or, with url '', back on WebRTC). */
  fallback: { reason: string; url: string };
  /** The picture's size changed (a simulcast layer switch). */
  layer: { width: number; height: number };
  /** The server reduced what viewers get of the host (it cannot keep up), or restored it. */
  quality: RoomQuality;
  stats: PlayerStats;
  error: GlintError;
}

// Events that describe the connection, not something on the picture.
const NOT_ON_FRAME = new Set(['welcome', 'chat.history', 'presence', 'room.live', 'room.ended', 'room.quality', 'media.clock', 'chat.missed']);
const FATAL_STATUS = new Set([400, 401, 403, 413, 415, 422]);
const DISCONNECTED_MS = 2000;
const ROOM_WAIT_S = 20; // the server holds a WHEP offer at most signaling.anonymous_wait

interface Conn {
  pc: RTCPeerConnection;
  dc: RTCDataChannel;
  session: Session;
  stream: MediaStream;
  /** Rejects when the connection is lost. */
  lost: Promise<never>;
  close(): void;
}

export class Player extends Emitter<PlayerEvents> {
  readonly interaction: Interaction;
  state: PlayerState = 'idle';
  /** What plays now. */
  mode: 'webrtc' | 'hls' | null = null;
  /** The capture time (host clock, unix ms) of the frame on screen. */
  frameTime: number | undefined;

  private readonly opts: PlayerOptions;
  private readonly nodes: Nodes;
  private readonly abort = new AbortController();
  private readonly scheduler: FrameScheduler;
  private clock: MediaClock | null = null;
  private conn: Conn | null = null;
  private hls: HlsPlayback | null = null;
  private iceServers: RTCIceServer[] | undefined;
  private statsTimer: ReturnType<typeof setInterval> | undefined;
  private statsPrev: { bytes: number; at: number } | undefined;
  private size = { width: 0, height: 0 };
  private readonly frameListeners = new Set<(e: FrameEvent) => void>();
  private started: Promise<void> | null = null;
  // After a 404 (the room is not open yet) the next offer asks the server to hold it until
  // the room opens (Prefer: wait), so the picture starts as soon as the host does.
  private roomMissing = false;
  // Whether this connection's picture plays: 'live' needs both it and a live host.
  private mediaUp = false;
  private roomMissingRetries = 0;

  constructor(opts: PlayerOptions) {
    super();
    this.opts = { fallback: 'auto', statsIntervalMs: 1000, webrtcRetryMs: 30_000, deadAfterMs: 2500, discover: true, ...opts };
    this.iceServers = opts.iceServers;
    this.nodes = new Nodes(opts.server, opts.servers);
    this.interaction = new Interaction({ mediaTime: () => this.frameTime });
    this.scheduler = new FrameScheduler((e) => {
      for (const cb of this.frameListeners) {
        try {
          cb(e);
        } catch (err) {
          console.error('glint: an onFrameEvent callback threw', err); // and the others still run
        }
      }
    }, opts.frameEvents);
    this.interaction.on('media.clock', (c) => (this.clock = c));
    this.interaction.on('envelope', (env) => {
      if (!NOT_ON_FRAME.has(env.type)) this.scheduler.push(env);
    });
    this.interaction.on('room', (r) => this.onRoom(r));
    this.interaction.on('quality', (q) => this.emit('quality', q));
  }

  // A page going away ends its session on the server at once (WHEP DELETE, sent with
  // keepalive) instead of leaving it to time out.
  private readonly onPageHide = () => this.close();

  /**
   * play starts playing and keeps playing until close(): it reconnects, waits for the host
   * and falls back by itself. It resolves once the first connection is made (or the room
   * is found not started yet) and rejects only when the server refuses for good.
   */
  play(): Promise<void> {
    this.started ??= new Promise<void>((resolve, reject) => {
      this.scheduler.start();
      globalThis.addEventListener?.('pagehide', this.onPageHide);
      this.watchFrames();
      this.startStats();
      if (this.opts.fallback === 'always') this.mode = 'hls';
      this.setState('connecting');
      void this.run(resolve, reject);
    });
    return this.started;
  }

  /** onFrameEvent calls cb when the frame an event belongs to is on screen. */
  onFrameEvent(cb: (e: FrameEvent) => void): () => void {
    this.frameListeners.add(cb);
    return () => this.frameListeners.delete(cb);
  }

  /** server is the node the player plays from (or tries next): `server`, or one of `servers` after a failover. */
  get server(): string {
    return this.opts.server;
  }

  /** peerConnection is the WebRTC connection playing now; null between connections and on LL-HLS. */
  get peerConnection(): RTCPeerConnection | null {
    return this.conn?.pc ?? null;
  }

  /** frameStats counts events shown on their frame, late, and without a frame. */
  get frameStats() {
    return { ...this.scheduler.stats };
  }

  /** setLayer caps the simulcast layer (also across reconnects). */
  async setLayer(layer: Layer): Promise<void> {
    this.opts.layer = layer;
    if (this.mode === 'webrtc' && this.interaction.connected) await this.interaction.setLayer(layer);
  }

  /** setExtraDelay holds the picture this much longer (ms) for a smoother play. */
  setExtraDelay(ms: number): void {
    this.opts.extraDelayMs = ms;
    for (const r of this.conn?.pc.getReceivers() ?? []) applyDelay(r, ms);
  }

  /** close stops playing and leaves the room. */
  close(): void {
    if (this.state === 'closed') return;
    this.abort.abort(new GlintError('closed', 'the player was closed'));
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    clearInterval(this.statsTimer);
    this.conn?.close();
    this.hls?.destroy();
    this.scheduler.stop();
    this.interaction.close();
    this.setState('closed');
    this.removeAllListeners();
  }

  private setState(s: PlayerState): void {
    if (this.state === s || this.state === 'closed') return;
    this.state = s;
    this.emit('state', s);
  }

  private onRoom(r: RoomState): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    if (r.live) {
      if (!this.mediaUp) return; // said when the picture plays (mediaIsUp)
      this.setState('live');
      this.emit('live', r);
    } else if (r.reason === 'not_started') {
      this.setState('waiting');
      this.emit('waiting', { retryInMs: 0, reason: 'the host has not started' });
    } else {
      this.setState('ended');
      this.emit('ended', r);
    }
  }

  // mediaIsUp says the picture of a new connection plays: the state is then the room's
  // (live, or ended/waiting over a frozen frame); a room not heard of yet counts as live,
  // as media flows, until its state comes.
  private mediaIsUp(): void {
    this.mediaUp = true;
    const r = this.interaction.room;
    if (r && !r.live) {
      this.onRoom(r);
      return;
    }
    this.setState('live');
    if (r) this.emit('live', r);
  }

  // run is the player's life: connect, hold, and on loss decide how to go on.
  private async run(resolve: () => void, reject: (e: GlintError) => void): Promise<void> {
    let attempt = 0;
    let iceFailures = 0;
    const up = () => {
      attempt = 0;
      iceFailures = 0;
      resolve();
    };
    while (!this.abort.signal.aborted) {
      this.mediaUp = false;
      this.interaction.room = null; // the new connection's join says it; an old one may be stale
      let err: GlintError;
      try {
        if (this.mode === 'hls') {
          const conn = await this.runHls(up);
          this.emit('fallback', { reason: 'WebRTC is back', url: '' });
          await this.holdWebRTC(conn, up);
        } else {
          await this.holdWebRTC(await this.openWebRTC(), up);
        }
        continue;
      } catch (e) {
        err = asError(e);
      }
      if (this.abort.signal.aborted) return reject(asError(this.abort.signal.reason, 'closed'));
      const fb = this.opts.fallback;
      if (err.code === 'http' && FATAL_STATUS.has(err.status ?? 0)) {
        this.setState('failed');
        this.emit('error', err);
        reject(err);
        return;
      }
      if (this.mode !== 'hls' && fb === 'auto') {
        if (err.code === 'ice' && !err.message.includes('lost')) iceFailures++;
        const reason =
          err.status === 503 && err.alternate ? 'the server is full'
          : err.code === 'unsupported' ? 'this browser cannot play WebRTC'
          : iceFailures >= 2 ? 'WebRTC cannot connect (blocked?)'
          : '';
        if (reason) {
          if (err.alternate) this.opts.hlsUrl = err.alternate;
          this.mode = 'hls';
          this.emit('fallback', { reason, url: this.hlsUrl() });
          continue;
        }
      }
      if (this.nodes.many && failsOver(err)) this.failOver(err);
      let delay = backoffDelay(attempt++, { maxMs: 2000, ...this.opts.reconnect }, err.retryAfter);
      if (err.code === 'http' && err.status === 404) {
        // The room is not open yet (an anonymous viewer came before the host): ask again at
        // once, this time waiting on the server for the room.
        resolve();
        this.roomMissing = true;
        delay = Math.min(delay, this.roomMissingRetries++ ? 1000 : 0);
        this.setState('waiting');
        this.emit('waiting', { retryInMs: delay, reason: err.serverMessage ?? 'the room is not live yet' });
      } else {
        if (this.state !== 'connecting') this.setState('reconnecting');
        this.emit('reconnecting', { attempt, delayMs: delay, error: err });
      }
      // LL-HLS that failed (hls.js not loadable, no playlist): WebRTC again next time.
      if (this.mode === 'hls' && fb === 'auto') this.mode = null;
      try {
        await sleep(delay, this.abort.signal);
      } catch {
        return reject(asError(this.abort.signal.reason, 'closed'));
      }
    }
  }

  // failOver moves to the next node: the one playing is gone or cannot serve. Its ICE
  // servers are asked again, since they may be the lost node's own.
  private failOver(err: GlintError): void {
    const { from, to } = this.nodes.moveOn(this.opts);
    this.iceServers = this.opts.iceServers;
    if (this.opts.hlsUrl?.startsWith(`${from}/`)) this.opts.hlsUrl = undefined; // a 503's alternate on the lost node
    this.emit('failover', { from, to, error: err });
  }

  private hlsUrl(): string {
    if (this.opts.hlsUrl) return this.opts.hlsUrl;
    const u = new URL(`${this.opts.server.replace(/\/+$/, '')}/hls/${encodeURIComponent(this.opts.room)}/index.m3u8`);
    if (this.opts.token) u.searchParams.set('access_token', this.opts.token);
    return u.href;
  }

  // openWebRTC makes one WHEP connection and resolves once ICE and DTLS are up.
  private async openWebRTC(): Promise<Conn> {
    if (typeof RTCPeerConnection === 'undefined') throw new GlintError('unsupported', 'this browser has no WebRTC');
    this.iceServers ??= await discoverIceServers(this.opts, 'whep', this.abort.signal);
    // The new session's media.clock may come as soon as its channel opens, before this
    // returns: forget the old mapping now, not after.
    this.clock = null;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
    const dc = openDataChannel(pc);
    const transport = { send: (t: string) => dc.send(t) };
    // Set before the connection is up: the channel may open before openWebRTC goes on.
    dc.onopen = () => this.interaction.attach(transport);
    dc.onmessage = (e) => typeof e.data === 'string' && this.interaction.receive(e.data);
    const stream = new MediaStream();
    pc.ontrack = (e) => {
      stream.addTrack(e.track);
      if (this.opts.extraDelayMs) applyDelay(e.receiver, this.opts.extraDelayMs);
    };
    let session: Session | undefined;
    let lose: (e: GlintError) => void = () => {};
    const lost = new Promise<never>((_, reject) => (lose = reject));
    lost.catch(() => {});
    const close = () => {
      this.interaction.detach(transport);
      dc.close();
      pc.close();
      session?.close();
    };
    try {
      const query = this.opts.layer ? new URLSearchParams({ layer: this.opts.layer }) : undefined;
      const headers = this.roomMissing ? { Prefer: `wait=${ROOM_WAIT_S}` } : undefined;
      session = await negotiate('whep', this.opts, pc, { query, headers, signal: this.abort.signal });
      this.roomMissing = false;
      this.roomMissingRetries = 0;
      await connected(pc, 'WebRTC', this.abort.signal);
      if (this.opts.discover) this.nodes.discover(this.opts.server, this.abort.signal);
    } catch (err) {
      close();
      throw err;
    }
    // From here on, any sign of loss ends this connection.
    let quietTimer: ReturnType<typeof setTimeout> | undefined;
    pc.addEventListener('connectionstatechange', () => {
      const s = pc.connectionState;
      clearTimeout(quietTimer);
      if (s === 'failed' || s === 'closed') lose(new GlintError('ice', 'WebRTC: the connection was lost'));
      else if (s === 'disconnected') quietTimer = setTimeout(() => lose(new GlintError('ice', 'WebRTC: the connection was lost (disconnected)')), DISCONNECTED_MS);
    });
    dc.onclose = () => lose(new GlintError('ice', 'WebRTC: the server closed the session (lost)'));
    const unwatch = watchLink(
      this.interaction,
      this.opts.deadAfterMs!,
      () => dc.readyState === 'open',
      () => lose(new GlintError('ice', `WebRTC: nothing from the server for ${this.opts.deadAfterMs} ms (lost)`)),
    );
    const conn: Conn = {
      pc,
      dc,
      session: session!,
      stream,
      lost,
      close: () => {
        unwatch();
        clearTimeout(quietTimer);
        close();
      },
    };
    return conn;
  }

  // holdWebRTC plays conn until it is lost.
  private async holdWebRTC(conn: Conn, up: () => void): Promise<void> {
    // hls.js first: its detach empties the element, which would stop the new picture.
    this.hls?.destroy();
    this.hls = null;
    this.opts.video.srcObject = conn.stream;
    this.opts.video.play().catch(() => {}); // autoplay policy: the page's play button takes over
    this.conn = conn;
    this.mode = 'webrtc';
    this.scheduler.reset();
    this.statsPrev = undefined;
    up();
    this.mediaIsUp();
    try {
      await Promise.race([conn.lost, abortPromise(this.abort.signal)]);
    } finally {
      conn.close();
      if (this.conn === conn) this.conn = null;
    }
  }

  // runHls plays the LL-HLS playlist, with interaction over a WebSocket, and tries WebRTC
  // again every webrtcRetryMs (fallback 'auto'): a connection that comes up takes over.
  private async runHls(up: () => void): Promise<Conn> {
    this.conn?.close();
    this.conn = null;
    this.mode = 'hls';
    this.opts.video.srcObject = null;
    const pb = (this.hls = new HlsPlayback(this.opts.video, this.hlsUrl(), this.opts.hlsResyncS));
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    this.abort.signal.addEventListener('abort', onAbort);
    let fatal: (e: GlintError) => void = () => {};
    const failed = new Promise<never>((_, reject) => (fatal = reject));
    failed.catch(() => {});
    // Interaction first: it comes up in milliseconds, the first LL-HLS part in seconds.
    const socket = new InteractionSocket(this.opts, this.interaction);
    void socket.connect();
    stop.signal.addEventListener('abort', () => socket.close(), { once: true });
    try {
      await pb.start(this.opts.hls ?? defaultHlsLoader, fatal);
      this.scheduler.reset();
      up();
      this.mediaIsUp();
      const back = this.opts.fallback === 'auto' ? this.retryWebRTC(stop.signal) : new Promise<never>(() => {});
      // Resolves when WebRTC works again: it takes over from here.
      return await Promise.race([back, failed, abortPromise(this.abort.signal)]);
    } finally {
      stop.abort();
      this.abort.signal.removeEventListener('abort', onAbort);
      pb.destroy();
      if (this.hls === pb) this.hls = null;
    }
  }

  private async retryWebRTC(signal: AbortSignal): Promise<Conn> {
    for (;;) {
      await sleep(this.opts.webrtcRetryMs!, signal);
      try {
        const conn = await this.openWebRTC();
        if (signal.aborted) {
          conn.close(); // LL-HLS ended meanwhile: nobody takes this connection
          throw signal.reason;
        }
        return conn;
      } catch (err) {
        if (signal.aborted) throw err;
      }
    }
  }

  // watchFrames follows the frame on screen with requestVideoFrameCallback.
  private watchFrames(): void {
    const video = this.opts.video as HTMLVideoElement & {
      requestVideoFrameCallback?: (cb: (now: number, meta: { rtpTimestamp?: number; mediaTime: number }) => void) => number;
    };
    if (!video.requestVideoFrameCallback) return; // events then wait at most maxHoldMs
    const tick = (_now: number, meta: { rtpTimestamp?: number; mediaTime: number }) => {
      if (this.abort.signal.aborted) return;
      let t: number | undefined;
      if (this.mode === 'webrtc' && this.clock && meta.rtpTimestamp !== undefined) t = captureTime(meta.rtpTimestamp, this.clock);
      else if (this.mode === 'hls') t = this.hls?.frameTime(meta.mediaTime);
      if (t !== undefined) {
        this.frameTime = t;
        this.scheduler.onFrame(t);
      }
      video.requestVideoFrameCallback!(tick);
    };
    video.requestVideoFrameCallback(tick);
  }

  private startStats(): void {
    const every = this.opts.statsIntervalMs!;
    if (!every) return;
    this.statsTimer = setInterval(() => void this.sampleStats(), every);
  }

  /** stats reads the current quality figures. */
  async stats(): Promise<PlayerStats> {
    const frameEvents = this.frameStats;
    if (this.mode === 'webrtc' && this.conn) {
      const { stats, prev } = await webrtcStats(this.conn.pc, this.statsPrev);
      this.statsPrev = prev;
      return { ...stats, frameEvents };
    }
    const q = this.opts.video.getVideoPlaybackQuality?.();
    return {
      mode: 'hls',
      width: this.opts.video.videoWidth,
      height: this.opts.video.videoHeight,
      framesPerSecond: 0,
      framesDecoded: q?.totalVideoFrames ?? 0,
      framesDropped: q?.droppedVideoFrames ?? 0,
      freezeCount: 0,
      bitrateKbps: 0,
      packetsLost: 0,
      jitterMs: 0,
      hlsLatencyMs: this.hls?.latencyMs(),
      hlsResyncs: this.hls?.resyncs,
      frameEvents,
    };
  }

  private async sampleStats(): Promise<void> {
    if (!this.mode) return;
    try {
      const s = await this.stats();
      if (s.width && (s.width !== this.size.width || s.height !== this.size.height)) {
        this.size = { width: s.width, height: s.height };
        this.emit('layer', { ...this.size });
      }
      this.emit('stats', s);
    } catch {
      // a connection closing under getStats: the next sample will do
    }
  }
}

function applyDelay(r: RTCRtpReceiver, ms: number): void {
  // jitterBufferTarget (ms) is the standard; Chrome before 114 only had playoutDelayHint (s).
  const rr = r as unknown as { jitterBufferTarget?: number | null; playoutDelayHint?: number };
  if ('jitterBufferTarget' in rr) rr.jitterBufferTarget = ms;
  else rr.playoutDelayHint = ms / 1000;
}

function abortPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
