// The interaction client: one typed API for chat, polls, Q&A, auctions, gifts and alerts
// over whichever connection carries it (a WebRTC data channel or a WebSocket). Answers are
// matched to requests by `id`. A request that is safe to repeat (a bid with its bidId, a
// gift with its key, a vote, a moderation action) is sent again with the same id after a
// reconnect or an `unavailable`/`conflict` answer, so nothing is ever done twice; one that
// is not (a chat line, a question) is refused with 'not_connected' instead of guessed at.

import { backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { GlintError } from './errors.js';
import type {
  Alert,
  AuctionClosed,
  AuctionState,
  BidAccepted,
  BidAck,
  ChatHistory,
  ChatMessage,
  Envelope,
  GiftAck,
  GiftAlert,
  Layer,
  MediaClock,
  Outbid,
  PollState,
  Question,
  RoomQuality,
  RoomState,
  Welcome,
} from './protocol.js';

/** What carries envelopes: a data channel or a WebSocket, already open. */
export interface Transport {
  send(text: string): void;
}

export interface InteractionEvents {
  /** Every envelope the server sends, before the typed event for it. */
  envelope: Envelope;
  welcome: Welcome;
  chat: ChatMessage;
  'chat.history': ChatHistory;
  'chat.deleted': { messageIds: string[] };
  'chat.pinned': { message: ChatMessage | null };
  'chat.moderation': { identity: string; action: string; until?: number };
  'chat.slowmode': { seconds: number };
  'chat.missed': { count: number };
  poll: PollState;
  question: Question;
  auction: AuctionState;
  bid: BidAccepted;
  outbid: Outbid;
  sold: AuctionClosed;
  gift: GiftAlert;
  alert: Alert;
  presence: { viewers: number };
  room: RoomState;
  /** The server reduced (or restored) what viewers get of the host's picture. */
  quality: RoomQuality;
  'media.clock': MediaClock;
  /** The connection carrying interaction came up (true) or went (false). */
  connection: boolean;
}

export interface InteractionOptions {
  /** How long a request may wait for its answer, reconnects included (default 10 s). */
  timeoutMs?: number;
  /**
   * The capture time (host clock, unix ms) of what this user sees: the frame on screen for a
   * viewer, now for a host watching its own camera. Stamped on bids, gifts and the host's
   * alerts, lots and polls, so that they are shown on the frame they were made on.
   */
  mediaTime?: () => number | undefined;
}

// Requests that the server handles idempotently (by bidId, gift key, or because doing them
// twice ends in the same state): resent with the same id when no answer came.
const REPEATABLE = new Set([
  'auction.bid',
  'auction.close',
  'gift.send',
  'poll.vote',
  'poll.close',
  'qna.upvote',
  'qna.answer',
  'qna.dismiss',
  'chat.delete',
  'chat.pin',
  'chat.mute',
  'chat.unmute',
  'chat.ban',
  'chat.slow',
  'media.layer',
  'sync',
  'ping',
]);
const RETRY_CODES = new Set(['unavailable', 'conflict']);
const MAX_CHAT = 200;

interface Pending {
  env: Envelope;
  resolve: (payload: never) => void;
  reject: (err: GlintError) => void;
  deadline: ReturnType<typeof setTimeout>;
  retry?: ReturnType<typeof setTimeout>;
  attempts: number;
}

let idCounter = 0;

/** uniqueId is a random id for bids and gift keys (1..64 of A-Z a-z 0-9 . _ : -). */
export function uniqueId(prefix: string): string {
  const c = globalThis.crypto;
  const r = c?.randomUUID ? c.randomUUID() : `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
  return `${prefix}-${r}`;
}

export class Interaction extends Emitter<InteractionEvents> {
  /** The join state: who this connection is and what it may do. */
  welcome: Welcome | null = null;
  /** The room's state: whether the host is live. */
  room: RoomState | null = null;
  /** The latest room.quality; null while the picture was never reduced. */
  quality: RoomQuality | null = null;
  readonly chatLog: ChatMessage[] = [];
  readonly polls = new Map<string, PollState>();
  readonly questions = new Map<string, Question>();
  readonly lots = new Map<string, AuctionState>();
  viewers = 0;
  /** When the last message arrived (performance.now()), for liveness checks. */
  lastReceived = 0;

  private transport: Transport | null = null;
  private readonly pending = new Map<string, Pending>();
  private readonly timeoutMs: number;
  private readonly prefix = `r${(++idCounter).toString(36)}`;
  private seq = 0;
  mediaTime: () => number | undefined;

  constructor(opts: InteractionOptions = {}) {
    super();
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.mediaTime = opts.mediaTime ?? (() => undefined);
  }

  get connected(): boolean {
    return this.transport !== null;
  }

  /** attach starts using an open transport: repeatable requests still unanswered go again. */
  attach(t: Transport): void {
    // A new transport over a live one (a switch back to WebRTC): the old one's unanswered
    // requests that cannot be repeated fail first, never go out twice.
    if (this.transport && this.transport !== t) this.detach();
    this.transport = t;
    this.lastReceived = now();
    for (const p of this.pending.values()) if (p.retry === undefined) this.write(p);
    this.emit('connection', true);
  }

  /** detach stops using the transport t (any, without t); requests that cannot be repeated fail. */
  detach(t?: Transport): void {
    if (!this.transport || (t && t !== this.transport)) return;
    this.transport = null;
    for (const [id, p] of this.pending) {
      if (!REPEATABLE.has(p.env.type)) this.settle(id, new GlintError('not_connected', `${p.env.type}: the connection went before an answer; it may or may not have been done`));
    }
    this.emit('connection', false);
  }

  /** close fails every pending request and forgets the listeners. */
  close(): void {
    this.transport = null;
    for (const id of [...this.pending.keys()]) this.settle(id, new GlintError('closed', 'closed'));
    this.removeAllListeners();
  }

  /** receive handles one frame from the transport (one envelope, or an array of them). */
  receive(text: string): void {
    this.lastReceived = now();
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return; // the server sends JSON only; a broken frame is not ours to act on
    }
    for (const env of Array.isArray(v) ? v : [v]) {
      if (env && typeof env === 'object' && typeof (env as Envelope).type === 'string') this.handle(env as Envelope);
    }
  }

  /**
   * request sends one message and resolves to its ack's payload, or rejects with the
   * server's error. `mediaTime` is stamped on the envelope when given.
   */
  request<T = Record<string, unknown>>(type: string, payload: object = {}, mediaTime?: number): Promise<T> {
    const id = `${this.prefix}-${++this.seq}`;
    const env: Envelope = { v: 1, type, id, payload: payload as Record<string, unknown> };
    if (mediaTime !== undefined && Number.isFinite(mediaTime)) env.mediaTime = Math.round(mediaTime);
    return new Promise<T>((resolve, reject) => {
      if (!this.transport && !REPEATABLE.has(type)) {
        reject(new GlintError('not_connected', `${type}: not connected to the room`));
        return;
      }
      const deadline = setTimeout(() => this.settle(id, new GlintError('timeout', `${type}: no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
      const p: Pending = { env, resolve: resolve as (v: never) => void, reject, deadline, attempts: 0 };
      this.pending.set(id, p);
      if (this.transport) this.write(p);
    });
  }

  private write(p: Pending): void {
    p.attempts++;
    try {
      this.transport!.send(JSON.stringify(p.env));
    } catch {
      // The transport is closing; its owner detaches it and the request waits or fails then.
    }
  }

  private settle(id: string, result: GlintError | Record<string, unknown>): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.deadline);
    clearTimeout(p.retry);
    if (result instanceof GlintError) p.reject(result);
    else p.resolve(result as never);
  }

  private handle(env: Envelope): void {
    const p = env.payload ?? {};
    if (env.type === 'ack' || env.type === 'pong') {
      if (env.id) this.settle(env.id, p);
      return;
    }
    if (env.type === 'error') {
      this.answerError(env);
      return;
    }
    this.emit('envelope', env);
    this.apply(env.type, p as never);
  }

  private answerError(env: Envelope): void {
    const pl = env.payload as { code?: string; message?: string };
    const code = pl.code ?? 'internal';
    const id = env.id;
    const p = id ? this.pending.get(id) : undefined;
    if (!p || !id) {
      console.warn('glint: server error without a request to answer', code, pl.message);
      return;
    }
    if (RETRY_CODES.has(code) && REPEATABLE.has(p.env.type)) {
      // Nothing was stored; the same id again is safe (docs/PROTOCOL.md, Ordering).
      p.retry = setTimeout(() => {
        p.retry = undefined;
        if (this.transport) this.write(p);
      }, backoffDelay(p.attempts - 1, { initialMs: 200, maxMs: 2000 }));
      return;
    }
    this.settle(id, new GlintError(code, pl.message ?? code, { serverMessage: pl.message }));
  }

  // apply keeps the room's state and emits the typed event.
  private apply(type: string, p: never): void {
    switch (type) {
      case 'welcome':
        this.welcome = p;
        return this.emit('welcome', p);
      case 'chat.history': {
        const h = p as ChatHistory;
        this.chatLog.splice(0, this.chatLog.length, ...h.messages);
        return this.emit('chat.history', h);
      }
      case 'chat.message':
        this.chatLog.push(p);
        if (this.chatLog.length > MAX_CHAT) this.chatLog.splice(0, this.chatLog.length - MAX_CHAT);
        return this.emit('chat', p);
      case 'chat.deleted': {
        const gone = new Set((p as { messageIds: string[] }).messageIds);
        for (let i = this.chatLog.length - 1; i >= 0; i--) if (gone.has(this.chatLog[i].messageId)) this.chatLog.splice(i, 1);
        return this.emit('chat.deleted', p);
      }
      case 'chat.pinned':
      case 'chat.moderation':
      case 'chat.slowmode':
      case 'chat.missed':
        return this.emit(type, p);
      case 'poll.state':
        this.polls.set((p as PollState).pollId, p);
        return this.emit('poll', p);
      case 'qna.question':
        this.questions.set((p as Question).questionId, p);
        return this.emit('question', p);
      case 'auction.state':
        this.lots.set((p as AuctionState).lotId, p);
        return this.emit('auction', p);
      case 'auction.bid.accepted':
        return this.emit('bid', p);
      case 'auction.outbid':
        return this.emit('outbid', p);
      case 'auction.closed':
        return this.emit('sold', p);
      case 'gift.alert':
        return this.emit('gift', p);
      case 'alert':
        return this.emit('alert', p);
      case 'presence':
        this.viewers = (p as { viewers: number }).viewers;
        return this.emit('presence', p);
      case 'room.live': {
        const s = p as { since?: number; epoch?: number };
        this.room = { live: true, since: s.since, epoch: s.epoch };
        return this.emit('room', this.room);
      }
      case 'room.ended': {
        const s = p as { reason?: string; since?: number };
        this.room = { live: false, reason: s.reason ?? 'stopped', since: s.since };
        return this.emit('room', this.room);
      }
      case 'room.quality': {
        const q = p as { reduced?: boolean; reason?: string };
        this.quality = { reduced: !!q.reduced, reason: q.reason };
        return this.emit('quality', this.quality);
      }
      case 'media.clock':
        return this.emit('media.clock', p);
    }
    // Unknown types are ignored: the protocol adds types within version 1.
  }

  // ---- the typed API ----

  readonly chat = {
    /** send posts a chat line; resolves to its messageId. */
    send: (text: string) => this.request<{ messageId: string }>('chat.send', { text }),
    delete: (messageId: string) => this.request('chat.delete', { messageId }),
    pin: (messageId: string) => this.request('chat.pin', { messageId }),
    mute: (identity: string, seconds: number) => this.request('chat.mute', { identity, seconds }),
    unmute: (identity: string) => this.request('chat.unmute', { identity }),
    ban: (identity: string) => this.request('chat.ban', { identity }),
    slow: (seconds: number) => this.request('chat.slow', { seconds }),
  };

  readonly poll = {
    open: (o: { pollId?: string; question: string; options: string[]; durationMs: number }) =>
      this.request('poll.open', { pollId: o.pollId ?? uniqueId('poll'), question: o.question, options: o.options, durationMs: o.durationMs }, this.mediaTime()),
    vote: (pollId: string, option: number) => this.request('poll.vote', { pollId, option }),
    close: (pollId: string) => this.request('poll.close', { pollId }, this.mediaTime()),
  };

  readonly qna = {
    ask: (text: string) => this.request<{ questionId: string }>('qna.ask', { text }),
    upvote: (questionId: string) => this.request('qna.upvote', { questionId }),
    answer: (questionId: string, text = '') => this.request('qna.answer', text ? { questionId, text } : { questionId }),
    dismiss: (questionId: string) => this.request('qna.dismiss', { questionId }),
  };

  readonly auction = {
    open: (o: {
      lotId?: string;
      title: string;
      startPrice: number;
      increment: number;
      durationMs: number;
      reserve?: number;
      snipeWindowMs?: number;
      snipeExtendMs?: number;
    }) => this.request('auction.open', { ...o, lotId: o.lotId ?? uniqueId('lot') }, this.mediaTime()),
    /**
     * bid offers amount (minor units) for lotId. The bidId makes it idempotent: pass the
     * same one to retry a bid whose answer you never got; one is made when left out.
     */
    bid: (lotId: string, amount: number, bidId = uniqueId('bid')) => this.request<BidAck>('auction.bid', { lotId, bidId, amount }, this.mediaTime()),
    close: (lotId: string) => this.request('auction.close', { lotId }, this.mediaTime()),
  };

  /** gift sends a gift; the key makes it idempotent (one is made when left out). */
  gift(g: { gift: string; amount: number; currency: string; message?: string; key?: string }): Promise<GiftAck> {
    const payload: Record<string, unknown> = { key: g.key ?? uniqueId('gift'), gift: g.gift, amount: g.amount, currency: g.currency };
    if (g.message) payload.message = g.message;
    return this.request<GiftAck>('gift.send', payload, this.mediaTime());
  }

  /** alert shows an on-screen alert to everyone (roomAdmin). */
  alert(kind: string, text: string, durationMs = 5000): Promise<Record<string, unknown>> {
    return this.request('alert.show', { kind, text, durationMs }, this.mediaTime());
  }

  /** sync asks for the join state again. */
  sync(): Promise<Record<string, unknown>> {
    return this.request('sync', {});
  }

  ping(): Promise<Record<string, unknown>> {
    return this.request('ping', {});
  }

  /** setLayer caps the simulcast layer this WebRTC viewer receives. */
  setLayer(layer: Layer): Promise<Record<string, unknown>> {
    return this.request('media.layer', { layer });
  }
}

function now(): number {
  return globalThis.performance?.now() ?? Date.now();
}
