import { Emitter } from './emitter.js';
import type { Alert, AuctionClosed, AuctionState, BidAccepted, BidAck, ChatHistory, ChatMessage, Envelope, GiftAck, GiftAlert, Layer, MediaClock, Outbid, PollState, Question, RoomQuality, RoomState, Welcome } from './protocol.js';
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
    'chat.deleted': {
        messageIds: string[];
    };
    'chat.pinned': {
        message: ChatMessage | null;
    };
    'chat.moderation': {
        identity: string;
        action: string;
        until?: number;
    };
    'chat.slowmode': {
        seconds: number;
    };
    'chat.missed': {
        count: number;
    };
    poll: PollState;
    question: Question;
    auction: AuctionState;
    bid: BidAccepted;
    outbid: Outbid;
    sold: AuctionClosed;
    gift: GiftAlert;
    alert: Alert;
    presence: {
        viewers: number;
    };
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
/** uniqueId is a random id for bids and gift keys (1..64 of A-Z a-z 0-9 . _ : -). */
export declare function uniqueId(prefix: string): string;
export declare class Interaction extends Emitter<InteractionEvents> {
    /** The join state: who this connection is and what it may do. */
    welcome: Welcome | null;
    /** The room's state: whether the host is live. */
    room: RoomState | null;
    /** The latest room.quality; null while the picture was never reduced. */
    quality: RoomQuality | null;
    readonly chatLog: ChatMessage[];
    readonly polls: Map<string, PollState>;
    readonly questions: Map<string, Question>;
    readonly lots: Map<string, AuctionState>;
    viewers: number;
    /** When the last message arrived (performance.now()), for liveness checks. */
    lastReceived: number;
    private transport;
    private readonly pending;
    private readonly timeoutMs;
    private readonly prefix;
    private seq;
    mediaTime: () => number | undefined;
    constructor(opts?: InteractionOptions);
    get connected(): boolean;
    /** attach starts using an open transport: repeatable requests still unanswered go again. */
    attach(t: Transport): void;
    /** detach stops using the transport t (any, without t); requests that cannot be repeated fail. */
    detach(t?: Transport): void;
    /** close fails every pending request and forgets the listeners. */
    close(): void;
    /** receive handles one frame from the transport (one envelope, or an array of them). */
    receive(text: string): void;
    /**
     * request sends one message and resolves to its ack's payload, or rejects with the
     * server's error. `mediaTime` is stamped on the envelope when given.
     */
    request<T = Record<string, unknown>>(type: string, payload?: object, mediaTime?: number): Promise<T>;
    private write;
    private settle;
    private handle;
    private answerError;
    private apply;
    readonly chat: {
        /** send posts a chat line; resolves to its messageId. */
        send: (text: string) => Promise<{
            messageId: string;
        }>;
        delete: (messageId: string) => Promise<Record<string, unknown>>;
        pin: (messageId: string) => Promise<Record<string, unknown>>;
        mute: (identity: string, seconds: number) => Promise<Record<string, unknown>>;
        unmute: (identity: string) => Promise<Record<string, unknown>>;
        ban: (identity: string) => Promise<Record<string, unknown>>;
        slow: (seconds: number) => Promise<Record<string, unknown>>;
    };
    readonly poll: {
        open: (o: {
            pollId?: string;
            question: string;
            options: string[];
            durationMs: number;
        }) => Promise<Record<string, unknown>>;
        vote: (pollId: string, option: number) => Promise<Record<string, unknown>>;
        close: (pollId: string) => Promise<Record<string, unknown>>;
    };
    readonly qna: {
        ask: (text: string) => Promise<{
            questionId: string;
        }>;
        upvote: (questionId: string) => Promise<Record<string, unknown>>;
        answer: (questionId: string, text?: string) => Promise<Record<string, unknown>>;
        dismiss: (questionId: string) => Promise<Record<string, unknown>>;
    };
    readonly auction: {
        open: (o: {
            lotId?: string;
            title: string;
            startPrice: number;
            increment: number;
            durationMs: number;
            reserve?: number;
            snipeWindowMs?: number;
            snipeExtendMs?: number;
        }) => Promise<Record<string, unknown>>;
        /**
         * bid offers amount (minor units) for lotId. The bidId makes it idempotent: pass the
         * same one to retry a bid whose answer you never got; one is made when left out.
         */
        bid: (lotId: string, amount: number, bidId?: string) => Promise<BidAck>;
        close: (lotId: string) => Promise<Record<string, unknown>>;
    };
    /** gift sends a gift; the key makes it idempotent (one is made when left out). */
    gift(g: {
        gift: string;
        amount: number;
        currency: string;
        message?: string;
        key?: string;
    }): Promise<GiftAck>;
    /** alert shows an on-screen alert to everyone (roomAdmin). */
    alert(kind: string, text: string, durationMs?: number): Promise<Record<string, unknown>>;
    /** sync asks for the join state again. */
    sync(): Promise<Record<string, unknown>>;
    ping(): Promise<Record<string, unknown>>;
    /** setLayer caps the simulcast layer this WebRTC viewer receives. */
    setLayer(layer: Layer): Promise<Record<string, unknown>>;
}
