// The interaction protocol's messages (docs/PROTOCOL.md), as the SDK sees them.

export type Layer = 'q' | 'h' | 'f';

export interface Envelope<P = Record<string, unknown>> {
  v: 1;
  type: string;
  id?: string;
  room?: string;
  from?: string;
  seq?: number;
  mediaTime?: number;
  payload: P;
}

export interface Welcome {
  identity?: string;
  name?: string;
  canSend: boolean;
  admin: boolean;
  serverTime: number;
  protocol: number;
  maxMessageBytes: number;
  seq: number;
}

export interface ChatMessage {
  messageId: string;
  from: string;
  name?: string;
  text: string;
  at: number;
  mediaTime?: number;
}

export interface ChatHistory {
  messages: ChatMessage[];
  pinned: ChatMessage | null;
  slowModeSeconds: number;
}

export interface PollState {
  pollId: string;
  question: string;
  options: string[];
  counts: number[];
  total: number;
  deadline: number;
  open: boolean;
  winners?: number[];
}

export interface Question {
  questionId: string;
  asker: string;
  text: string;
  votes: number;
  status: 'open' | 'answered' | 'dismissed';
  answer?: string;
  askedAt: number;
}

export interface AuctionState {
  lotId: string;
  title: string;
  startPrice: number;
  increment: number;
  hasReserve: boolean;
  reserveMet: boolean;
  endsAt: number;
  extensions: number;
  open: boolean;
  closing?: boolean;
  bids: number;
  highBidder: string;
  highAmount: number;
  minNext: number;
  sold: boolean;
  winner?: string;
  logSeq: number;
}

export interface BidAccepted {
  lotId: string;
  bidId: string;
  bidder: string;
  amount: number;
  bidMediaTime?: number;
  endsAt: number;
  extended: boolean;
  logSeq: number;
}

export interface Outbid {
  lotId: string;
  bidId: string;
  amount: number;
  highAmount: number;
  minNext: number;
}

export interface AuctionClosed {
  lotId: string;
  sold: boolean;
  reserveMet: boolean;
  winner?: string;
  amount?: number;
  bidId?: string;
  bidMediaTime?: number;
  bids: number;
  closedAt: number;
}

export interface GiftAlert {
  key: string;
  from: string;
  name?: string;
  gift: string;
  amount: number;
  currency: string;
  message?: string;
  giftMediaTime?: number;
}

export interface Alert {
  kind: string;
  text: string;
  durationMs: number;
}

export interface MediaClock {
  rtpTimestamp: number;
  mediaTime: number;
  clockRate: number;
}

/** room.live and room.ended, as one state. */
export interface RoomState {
  live: boolean;
  /** For ended: 'stopped', 'gone', 'not_started' (or a reason added later). */
  reason?: string;
  since?: number;
  epoch?: number;
}

/** room.quality: whether viewers get less than the host sends, and why. */
export interface RoomQuality {
  reduced: boolean;
  /** Why, for people: the server could not transcode the host's stream in real time. */
  reason?: string;
}

/** The answers of the acked client messages. */
export interface BidAck {
  lotId: string;
  bidId: string;
  amount: number;
  logSeq: number;
  duplicate: boolean;
  endsAt: number;
}

export interface GiftAck {
  key: string;
  logSeq: number;
  duplicate: boolean;
}
