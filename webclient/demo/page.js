// What the demo pages share: their query (room, token, server), the status line, the SDK
// (docs/SDK.md: the one WHIP/WHEP client; these pages are thin on purpose) and what tests
// read.
//
// window.glint = {state, error, pc, history} is what tests read: state is one of
// 'new' | 'connecting' | 'live' | 'failed', and 'closed' after Stop; error is the message
// that failed the page; pc is the RTCPeerConnection in use now (null between connections);
// history lists the first 50 changes of state.

export const glint = (window.glint = { state: 'new', error: null, pc: null, history: [] });
const opened = Date.now();

export function params() {
  const q = new URLSearchParams(location.search);
  const origin = location.origin === 'null' ? '' : location.origin; // file:// pages
  return {
    room: q.get('room') || 'demo',
    token: q.get('token') || undefined,
    server: (q.get('server') || origin).replace(/\/+$/, ''),
    // more nodes of a cluster to fail over to (docs/SDK.md): comma-separated base URLs
    servers: (q.get('servers') || '').split(',').map((u) => u.trim()).filter(Boolean),
    q,
  };
}

export function setState(state, detail) {
  glint.state = state;
  // What tests print when a page is not where they expect it: each change, ms since load.
  if (glint.history.length < 50) glint.history.push(`${Date.now() - opened}ms ${state}${detail ? `(${detail})` : ''}`);
  const el = document.getElementById('status');
  el.textContent = detail ? `${state}: ${detail}` : state;
  el.dataset.state = state;
}

export function fail(err) {
  glint.error = err instanceof Error ? err.message : String(err);
  setState('failed');
  document.getElementById('error').textContent = glint.error;
  console.error('glint:', glint.error);
}

// loadSDK imports the SDK from the server the page talks to: with ?server= that server's
// /sdk/glint.js (the SDK it was built with), else this one's.
export async function loadSDK(p) {
  if (!p.server) throw new Error('no server: open this page from the Glint server or add ?server=http://host:port');
  const url = p.q.has('server') ? `${p.server}/sdk/glint.js` : '/sdk/glint.js';
  try {
    return await import(url);
  } catch (err) {
    throw new Error(`cannot load the SDK from ${url}: ${err.message} (server down, or another origin that does not allow this one?)`);
  }
}

// watchPlayer shows an SDK Player's state in the page's terms: 'live' while it plays,
// 'failed' when it was refused for good, 'closed' after Stop, and 'connecting' (with the
// SDK's own state beside it: waiting, ended, reconnecting) otherwise. The player
// reconnects by itself, so a lost connection is 'connecting' again, never 'failed'.
export function watchPlayer(player) {
  Object.defineProperty(glint, 'pc', { get: () => player.peerConnection, enumerable: true });
  player.on('state', (s) => {
    if (s === 'live' || s === 'closed') setState(s);
    else if (s !== 'failed') setState('connecting', s === 'connecting' ? '' : s);
  });
  player.on('error', fail);
}
