// The HTTP half of WHIP (RFC 9725) and WHEP, shared by publish.js and play.js:
// POST the SDP offer to {server}/{whip|whep}/{room}[?query], get 201 with the
// SDP answer and the session's resource URL in Location, DELETE that URL to leave.
//
// Non-trickle on purpose: we wait for ICE gathering to finish (2 s at most) and
// send every candidate in the offer, so no PATCH with trickled candidates.
// No STUN/TURN servers either: the server's candidates come in the answer and it
// learns ours from its connectivity checks (peer-reflexive).
//
// window.glint = {state, error, pc} is what tests read; state is one of
// 'new' | 'connecting' | 'live' | 'failed', and 'closed' after Stop.

export const glint = (window.glint = { state: 'new', error: null, pc: null });

const ICE_GATHER_MS = 2000;

export function params() {
  const q = new URLSearchParams(location.search);
  const origin = location.origin === 'null' ? '' : location.origin; // file:// pages
  return {
    room: q.get('room') || 'demo',
    token: q.get('token') || '',
    server: (q.get('server') || origin).replace(/\/+$/, ''),
  };
}

export function setState(state, detail) {
  glint.state = state;
  const el = document.getElementById('status');
  el.textContent = detail ? `${state}: ${detail}` : state;
  el.dataset.state = state;
}

// INTERACTION_PROTOCOLS is what a page offers for the interaction protocol: batched
// frames first (docs/PROTOCOL.md, Framing), so a busy room costs one frame per interval.
export const INTERACTION_PROTOCOLS = ['glint.v1.batch', 'glint.v1'];

// envelopes splits one interaction frame into its envelopes: a frame is one envelope, or
// an array of them on a batched connection.
export function envelopes(text) {
  const v = JSON.parse(text);
  return Array.isArray(v) ? v : [v];
}

export function fail(err) {
  glint.error = err instanceof Error ? err.message : String(err);
  setState('failed');
  document.getElementById('error').textContent = glint.error;
  console.error('glint:', glint.error);
}

function headers(token, extra = {}) {
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

function iceGathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => pc.iceGatheringState === 'complete' && done();
    const timer = setTimeout(done, ICE_GATHER_MS);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

async function httpError(what, res) {
  const body = (await res.text().catch(() => '')).trim();
  return new Error(`${what} failed: HTTP ${res.status} ${res.statusText}${body ? ` — ${body}` : ''}`);
}

// connect negotiates pc (its transceivers already added) with the server's
// endpoint ('whip' or 'whep') and resolves to a stop() function once the
// answer is applied; window.glint.state turns 'live' when media can flow.
// query (a URLSearchParams or string, optional) goes on the POST URL as ?query.
export async function connect(pc, endpoint, { room, token, server, query }) {
  if (!server) throw new Error('no server: open this page from the Glint server or add ?server=http://host:port');
  glint.pc = pc;
  pc.addEventListener('connectionstatechange', () => {
    const s = pc.connectionState;
    if (s === 'connected') setState('live');
    else if (s === 'disconnected' && glint.state === 'live') setState('live', 'connection interrupted, retrying');
    else if (s === 'failed') fail(new Error('ICE/DTLS connection to the server failed'));
  });

  setState('connecting', 'gathering ICE candidates');
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc);

  const search = String(query ?? '');
  const url = `${server}/${endpoint}/${encodeURIComponent(room)}${search ? `?${search}` : ''}`;
  setState('connecting', `POST ${url}`);
  const res = await fetch(url, {
    method: 'POST',
    headers: headers(token, { 'Content-Type': 'application/sdp' }),
    body: pc.localDescription.sdp,
  }).catch((err) => {
    throw new Error(`POST ${url}: ${err.message} (server down, or another origin without CORS?)`);
  });
  if (res.status !== 201) throw await httpError(`POST ${url}`, res);
  const loc = res.headers.get('Location');
  if (!loc) {
    // Cross-origin servers must send Access-Control-Expose-Headers: Location.
    throw new Error(`POST ${url}: 201 without a readable Location header`);
  }
  const resource = new URL(loc, url).href;

  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    pc.close();
    fetch(resource, { method: 'DELETE', headers: headers(token), keepalive: true }).catch(() => {});
    if (glint.state !== 'failed') setState('closed');
  };
  addEventListener('pagehide', stop);
  pc.addEventListener('connectionstatechange', () => pc.connectionState === 'failed' && stop());

  try {
    await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  } catch (err) {
    stop();
    throw new Error(`server's SDP answer rejected: ${err.message}`);
  }
  if (glint.state === 'connecting') setState('connecting', 'ICE/DTLS handshake');
  return stop;
}
