// The connections that carry interaction: the WebRTC data channel negotiated with the media,
// or a WebSocket to /ws/{room} (LL-HLS viewers, chat-only clients). Either way a frame is
// one envelope or, batched, an array of them (docs/PROTOCOL.md, Framing).

import { GlintError } from './errors.js';
import type { Endpoint } from './whip.js';

export const LABEL = 'glint.v1';
export const PROTOCOLS = ['glint.v1.batch', 'glint.v1'];

/** openDataChannel adds the interaction channel to pc; it opens with the connection. */
export function openDataChannel(pc: RTCPeerConnection): RTCDataChannel {
  return pc.createDataChannel(LABEL, { protocol: PROTOCOLS[0] });
}

/** wsUrl is the WebSocket address of the room's interaction endpoint. */
export function wsUrl(ep: Endpoint): string {
  const u = new URL(`${ep.server.replace(/\/+$/, '')}/ws/${encodeURIComponent(ep.room)}`);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  if (ep.token) u.searchParams.set('access_token', ep.token);
  return u.href;
}

/** openWebSocket resolves once the socket is open, or rejects within timeoutMs. */
export function openWebSocket(ep: Endpoint, timeoutMs = 10_000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(wsUrl(ep), PROTOCOLS);
    } catch (err) {
      reject(new GlintError('network', `WebSocket: ${(err as Error).message}`, { cause: err }));
      return;
    }
    const timer = setTimeout(() => {
      ws.close();
      reject(new GlintError('timeout', `WebSocket to ${ep.server}: not open in ${timeoutMs} ms`));
    }, timeoutMs);
    ws.onopen = () => {
      clearTimeout(timer);
      resolve(ws);
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      // A browser does not tell why a handshake failed (401, 404 …): say what to check.
      reject(new GlintError('network', `WebSocket to ${ep.server} closed before it opened (code ${e.code}): server down, bad token or unknown room`));
    };
  });
}
