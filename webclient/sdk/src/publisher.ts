// The publisher: camera, screen or any MediaStream to a room over WHIP, with simulcast,
// codec choice, trickle ICE, reconnect, dynacast (layers nobody watches are paused) and
// the host's side of interaction on the same connection.

import { type BackoffOptions, backoffDelay, sleep } from './backoff.js';
import { openDataChannel } from './channel.js';
import { Emitter } from './emitter.js';
import { GlintError, asError } from './errors.js';
import { Nodes, failsOver } from './failover.js';
import { Interaction } from './interaction.js';
import { watchLink } from './liveness.js';
import type { Layer } from './protocol.js';
import { type Endpoint, type Session, connected, discoverIceServers, negotiate } from './whip.js';

export type PublisherState = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'failed' | 'stopped';
export type VideoCodec = 'vp8' | 'h264' | 'vp9' | 'av1';

export interface PublisherOptions extends Endpoint {
  /** What to send: the camera (default), the screen, or a stream of your own. */
  source?: 'camera' | 'screen' | MediaStream;
  /** Constraints for the camera or screen (default 1280×720). */
  video?: boolean | MediaTrackConstraints;
  audio?: boolean | MediaTrackConstraints;
  /** Send three layers (q, h, f: quarter, half, full size) so each viewer gets what fits. */
  simulcast?: boolean;
  /** The video codec to prefer (the browser's default order otherwise). */
  codec?: VideoCodec;
  /** The top layer's bitrate, kbit/s (default 2500; 1500 with simulcast). */
  maxBitrateKbps?: number;
  /** Shows what is sent. */
  preview?: HTMLVideoElement;
  /**
   * More nodes of a Glint cluster (base URLs, like `server`): when the node publishing is
   * lost or does not answer, the publisher goes on to the next of them, in turn, which
   * becomes the room's origin (docs/CLUSTER.md).
   */
  servers?: string[];
  /**
   * Learn the cluster's other nodes from the node publishing to (GET /nodes) each time it
   * connects, and fail over to them too (default true).
   */
  discover?: boolean;
  reconnect?: BackoffOptions;
  iceServers?: RTCIceServer[];
  /** Pause simulcast layers no viewer wants when the server says so (default true). */
  dynacast?: boolean;
  /** A connection that says nothing for this long is given up, ms (default 2500). */
  deadAfterMs?: number;
}

export interface LayerStats {
  rid: string | null;
  active: boolean;
  width: number;
  height: number;
  bytesSent: number;
}

export interface PublisherEvents {
  state: PublisherState;
  reconnecting: { attempt: number; delayMs: number; error: GlintError };
  /** The publisher moved to another node of the cluster (`servers`) after `error`. */
  failover: { from: string; to: string; error: GlintError };
  /** The simulcast layers being encoded changed (dynacast). */
  layers: { active: Layer[] };
  error: GlintError;
}

/** The simulcast layers, lowest first; the server picks one per viewer by rid. */
export const SIMULCAST: { rid: Layer; scaleResolutionDownBy: number; maxBitrate: number }[] = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];
const FATAL_STATUS = new Set([400, 401, 403, 413, 415, 422]);

export class Publisher extends Emitter<PublisherEvents> {
  // A host sees its own camera: what it acts on was captured now, on the clock its RTCP
  // sender reports carry (the browser's wall clock), which is the room's media clock.
  readonly interaction = new Interaction({ mediaTime: () => (this.state === 'live' ? Date.now() : undefined) });
  state: PublisherState = 'idle';
  stream: MediaStream | null = null;
  pc: RTCPeerConnection | null = null;

  private readonly opts: PublisherOptions;
  private readonly nodes: Nodes;
  private readonly abort = new AbortController();
  private session: Session | null = null;
  private ownStream = false;
  private wanted: Layer[] | null = null;
  // Dynacast: the newest media.layers not yet applied, and the chain that applies them one
  // at a time (two setParameters in flight would refuse the older one's transaction).
  private asked: Layer[] | null = null;
  private applying: Promise<void> = Promise.resolve();
  private iceServers: RTCIceServer[] | undefined;
  private closeConn: (() => void) | null = null;

  constructor(opts: PublisherOptions) {
    super();
    this.opts = { dynacast: true, deadAfterMs: 2500, discover: true, ...opts };
    this.iceServers = opts.iceServers;
    this.nodes = new Nodes(opts.server, opts.servers);
    this.interaction.on('envelope', (env) => {
      if (env.type !== 'media.layers' || !this.opts.dynacast) return;
      this.asked = (env.payload as { layers?: Layer[] }).layers ?? [];
      this.queueWanted();
    });
  }

  // A page going away ends the broadcast at once (WHIP DELETE, sent with keepalive):
  // viewers are told 'ended' instead of waiting for the host to time out.
  private readonly onPageHide = () => this.stop();

  /**
   * start captures (unless given a stream) and publishes; it resolves when the first
   * connection is up and rejects when capture or the server refuses. After that the
   * publisher reconnects by itself until stop().
   */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new GlintError('closed', `start: the publisher is ${this.state}`);
    this.setState('connecting');
    globalThis.addEventListener?.('pagehide', this.onPageHide);
    try {
      this.stream = await this.capture();
      if (this.opts.preview) {
        this.opts.preview.muted = true;
        this.opts.preview.srcObject = this.stream;
        this.opts.preview.play().catch(() => {});
      }
      const { lost } = await this.connect();
      void this.run(lost);
    } catch (err) {
      const e = asError(err);
      globalThis.removeEventListener?.('pagehide', this.onPageHide);
      this.setState('failed');
      this.emit('error', e);
      this.release();
      throw e;
    }
  }

  /** stop ends the broadcast (the viewers see 'ended' at once) and releases the camera. */
  stop(): void {
    if (this.state === 'stopped') return;
    this.abort.abort(new GlintError('closed', 'the publisher was stopped'));
    globalThis.removeEventListener?.('pagehide', this.onPageHide);
    this.teardown();
    this.release();
    this.interaction.close();
    this.setState('stopped');
    this.removeAllListeners();
  }

  /** server is the node publishing to (or tried next): `server`, or one of `servers` after a failover. */
  get server(): string {
    return this.opts.server;
  }

  /** layerStats lists what each layer sends (one entry without simulcast). */
  async layerStats(): Promise<LayerStats[]> {
    if (!this.pc) return [];
    const out: LayerStats[] = [];
    (await this.pc.getStats()).forEach((s) => {
      if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
      out.push({ rid: s.rid ?? null, active: s.active ?? true, width: s.frameWidth ?? 0, height: s.frameHeight ?? 0, bytesSent: s.bytesSent ?? 0 });
    });
    const rank = (rid: string | null) => SIMULCAST.findIndex((e) => e.rid === rid);
    return out.sort((a, b) => rank(a.rid) - rank(b.rid));
  }

  private setState(s: PublisherState): void {
    if (this.state === s || this.state === 'stopped') return;
    this.state = s;
    this.emit('state', s);
  }

  private async capture(): Promise<MediaStream> {
    const src = this.opts.source ?? 'camera';
    if (typeof src !== 'string') return src;
    const md = navigator.mediaDevices;
    const video = this.opts.video ?? { width: 1280, height: 720 };
    const audio = this.opts.audio ?? true;
    this.ownStream = true;
    try {
      if (src === 'screen') {
        if (!md?.getDisplayMedia) throw new GlintError('unsupported', 'this browser cannot share the screen');
        return await md.getDisplayMedia({ video, audio });
      }
      if (!md?.getUserMedia) throw new GlintError('unsupported', 'camera access needs a secure context (https or localhost)');
      return await md.getUserMedia({ video, audio });
    } catch (err) {
      if (err instanceof GlintError) throw err;
      throw new GlintError('media', `${src}: ${(err as Error).message}`, { cause: err });
    }
  }

  // connect makes one WHIP connection and resolves, once it is up, to the promise that
  // rejects when the connection is lost (wrapped: an async function would wait for it).
  private async connect(): Promise<{ lost: Promise<never> }> {
    this.iceServers ??= await discoverIceServers(this.opts, 'whip', this.abort.signal);
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    for (const track of this.stream!.getTracks()) {
      const init: RTCRtpTransceiverInit = { direction: 'sendonly', streams: [this.stream!] };
      if (track.kind === 'video') init.sendEncodings = this.encodings();
      const t = pc.addTransceiver(track, init);
      if (track.kind === 'video' && this.opts.codec) preferCodec(t, this.opts.codec);
    }
    const dc = openDataChannel(pc);
    const transport = { send: (t: string) => dc.send(t) };
    // Set before the connection is up: the channel may open before connect() goes on.
    dc.onopen = () => this.interaction.attach(transport);
    dc.onmessage = (e) => typeof e.data === 'string' && this.interaction.receive(e.data);
    let lose: (e: GlintError) => void = () => {};
    const lost = new Promise<never>((_, reject) => (lose = reject));
    lost.catch(() => {});
    let unwatch = () => {};
    const close = () => {
      unwatch();
      this.interaction.detach(transport);
      dc.close();
      pc.close();
    };
    this.closeConn = close;
    try {
      this.session = await negotiate('whip', this.opts, pc, { signal: this.abort.signal });
      await connected(pc, 'WHIP', this.abort.signal);
      if (this.opts.discover) this.nodes.discover(this.opts.server, this.abort.signal);
    } catch (err) {
      close();
      this.session?.close();
      this.session = null;
      throw err;
    }
    this.pc = pc;
    this.wanted = null;
    if (this.asked) this.queueWanted(); // told before the connection was up
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') lose(new GlintError('ice', 'WHIP: the connection was lost'));
    });
    dc.onclose = () => lose(new GlintError('ice', 'WHIP: the server closed the session'));
    unwatch = watchLink(
      this.interaction,
      this.opts.deadAfterMs!,
      () => dc.readyState === 'open',
      () => lose(new GlintError('ice', `WHIP: nothing from the server for ${this.opts.deadAfterMs} ms`)),
    );
    this.setState('live');
    const done = lost.finally(close);
    done.catch(() => {});
    return { lost: done };
  }

  private encodings(): RTCRtpEncodingParameters[] {
    const top = (this.opts.maxBitrateKbps ?? (this.opts.simulcast ? 1500 : 2500)) * 1000;
    if (!this.opts.simulcast) return [{ maxBitrate: top }];
    return SIMULCAST.map((e) => ({ ...e, maxBitrate: e.rid === 'f' ? top : e.maxBitrate }));
  }

  // run keeps publishing: when a connection is lost it makes a new one, with backoff.
  private async run(lost: Promise<never>): Promise<void> {
    for (let attempt = 0; !this.abort.signal.aborted; ) {
      try {
        await lost;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        this.teardown();
        let e = asError(err);
        for (;;) {
          if (this.nodes.many && failsOver(e)) this.failOver(e);
          const delayMs = backoffDelay(attempt++, { maxMs: 2000, ...this.opts.reconnect }, e.retryAfter);
          this.setState('reconnecting');
          this.emit('reconnecting', { attempt, delayMs, error: e });
          try {
            await sleep(delayMs, this.abort.signal);
            ({ lost } = await this.connect());
            attempt = 0;
            break;
          } catch (err2) {
            if (this.abort.signal.aborted) return;
            e = asError(err2);
            if (e.code === 'http' && FATAL_STATUS.has(e.status ?? 0)) {
              globalThis.removeEventListener?.('pagehide', this.onPageHide);
              this.release();
              this.setState('failed');
              this.emit('error', e);
              return;
            }
          }
        }
      }
    }
  }

  // failOver moves to the next node: the one publishing is gone or cannot serve. Its ICE
  // servers are asked again, since they may be the lost node's own.
  private failOver(err: GlintError): void {
    const { from, to } = this.nodes.moveOn(this.opts);
    this.iceServers = this.opts.iceServers;
    this.emit('failover', { from, to, error: err });
  }

  private queueWanted(): void {
    // A connection closing under setParameters rejects it: the next one is told afresh.
    this.applying = this.applying.then(() => this.applyWanted()).catch(() => {});
  }

  // applyWanted encodes only the layers some viewer wants, and always the lowest (so a new
  // viewer has a picture at once, and a thumbnail its keyframe), and resumes a layer as
  // soon as it is wanted. It applies the newest media.layers; older ones are moot.
  private async applyWanted(): Promise<void> {
    const sender = this.pc?.getSenders().find((s) => s.track?.kind === 'video');
    const layers = this.asked;
    if (!layers || !sender || !this.opts.simulcast) return; // no connection yet: connect() applies it
    this.asked = null;
    const want = new Set<Layer>(['q', ...layers]);
    const params = sender.getParameters();
    let changed = false;
    for (const enc of params.encodings) {
      const active = enc.rid ? want.has(enc.rid as Layer) : true;
      if (enc.active !== active) {
        enc.active = active;
        changed = true;
      }
    }
    if (!changed) return;
    await sender.setParameters(params);
    this.wanted = [...want] as Layer[];
    this.emit('layers', { active: this.wanted });
  }

  private teardown(): void {
    this.closeConn?.(); // its watchdog too: a closed channel does not always say so
    this.closeConn = null;
    this.pc?.close();
    this.pc = null;
    this.asked = null; // the next connection is told afresh
    this.session?.close();
    this.session = null;
  }

  private release(): void {
    if (this.ownStream) this.stream?.getTracks().forEach((t) => t.stop());
  }
}


// preferCodec puts every variant of codec (all H.264 profiles, say) first and keeps the
// rest, RTX and FEC included, after.
function preferCodec(t: RTCRtpTransceiver, codec: VideoCodec): void {
  const mime = `video/${codec}`;
  const codecs = RTCRtpSender.getCapabilities?.('video')?.codecs ?? [];
  const first = codecs.filter((c) => c.mimeType.toLowerCase() === mime);
  if (!first.length) throw new GlintError('unsupported', `this browser cannot send ${codec.toUpperCase()}`);
  t.setCodecPreferences([...first, ...codecs.filter((c) => c.mimeType.toLowerCase() !== mime)]);
}
