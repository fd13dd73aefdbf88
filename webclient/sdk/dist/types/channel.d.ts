import type { Endpoint } from './whip.js';
export declare const LABEL = "glint.v1";
export declare const PROTOCOLS: string[];
/** openDataChannel adds the interaction channel to pc; it opens with the connection. */
export declare function openDataChannel(pc: RTCPeerConnection): RTCDataChannel;
/** wsUrl is the WebSocket address of the room's interaction endpoint. */
export declare function wsUrl(ep: Endpoint): string;
/** openWebSocket resolves once the socket is open, or rejects within timeoutMs. */
export declare function openWebSocket(ep: Endpoint, timeoutMs?: number): Promise<WebSocket>;
