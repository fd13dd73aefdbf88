// The watch page: the room's video with chat, Q&A, polls, the auction and gifts beside it,
// and alerts drawn over the picture on the frame they belong to. Built on the SDK only.
//
// Query: room, token (optional where anonymous viewing is on), server, servers (more nodes
// of the cluster to fail over to, comma-separated base URLs), layer (q|h|f), fallback
// (auto|never|always), delay (extra ms), webrtcRetry (ms between tries to get back to
// WebRTC from LL-HLS).
import { Player } from '/sdk/glint.js';
import { $, append, count, el, money, page, params, showError } from './common.js';

const p = params();
$('title').textContent = p.room;
document.title = `${p.room} · Glint`;

const STATE_TEXT = {
  connecting: 'Connecting…',
  waiting: 'Waiting for the host to start',
  live: '',
  ended: 'The host has ended the stream',
  reconnecting: 'Reconnecting…',
  failed: 'Cannot play this room',
  closed: 'Stopped',
};

const player = new Player({
  server: p.server,
  servers: p.servers,
  room: p.room,
  token: p.token,
  video: $('video'),
  layer: p.q.get('layer') || undefined,
  fallback: p.q.get('fallback') || 'auto',
  extraDelayMs: Number(p.q.get('delay')) || undefined,
  webrtcRetryMs: Number(p.q.get('webrtcRetry')) || undefined,
});
page.player = player;
const ix = player.interaction;

player.on('state', (s) => {
  page.state = s;
  $('state').textContent = s;
  $('state').dataset.state = s;
  const text = s === 'ended' && ix.room?.reason === 'gone' ? 'The host went away; waiting for them to come back' : STATE_TEXT[s];
  $('overlay').textContent = text ?? s;
  $('overlay').hidden = !text;
});
player.on('failover', ({ to, error }) => {
  page.failovers = [...(page.failovers ?? []), { t: Date.now(), to, error: error.message }];
  console.info(`glint: ${error.message}; going on from ${to}`);
});
player.on('fallback', ({ reason, url }) => {
  page.fallback = url ? reason : null;
  $('mode').textContent = url ? `LL-HLS (${reason})` : '';
});
player.on('error', (err) => {
  showError(null, err);
  $('overlay').textContent = `Cannot play: ${err.serverMessage || err.message}`;
  $('overlay').hidden = false;
});
player.on('quality', ({ reduced, reason }) => {
  // The server could not keep up with the host and sends less (room.quality): say so,
  // rather than leave a smaller or softer picture unexplained.
  page.quality = reduced ? reason : null;
  $('quality').hidden = !reduced;
  $('quality').title = reason ?? '';
});
player.on('layer', ({ height }) => ($('mode').textContent = player.mode === 'hls' ? 'LL-HLS' : `${height}p`));
$('unmute').onclick = () => {
  $('video').muted = false;
  $('unmute').hidden = true;
};
$('layer').onchange = (e) => player.setLayer(e.target.value).catch((err) => showError(null, err));

// ---- chat ----
function chatLine(m) {
  const li = el('li');
  li.dataset.id = m.messageId;
  li.append(el('span', m.name || m.from, 'who'), el('span', m.text));
  return li;
}
ix.on('chat.history', (h) => $('messages').replaceChildren(...h.messages.map(chatLine)));
ix.on('chat', (m) => {
  count('chat');
  append($('messages'), chatLine(m));
});
ix.on('chat.deleted', ({ messageIds }) => messageIds.forEach((id) => $('messages').querySelector(`[data-id="${CSS.escape(id)}"]`)?.remove()));
$('chatform').onsubmit = async (e) => {
  e.preventDefault();
  const text = $('chattext').value.trim();
  if (!text) return;
  $('chaterr').textContent = '';
  try {
    await ix.chat.send(text);
    $('chattext').value = '';
  } catch (err) {
    showError($('chaterr'), err);
  }
};

// ---- Q&A ----
function renderQuestions() {
  const qs = [...ix.questions.values()].filter((q) => q.status !== 'dismissed').sort((a, b) => b.votes - a.votes);
  $('questions').replaceChildren(
    ...qs.map((q) => {
      const li = el('li');
      const up = el('button', `▲ ${q.votes}`);
      up.type = 'button';
      up.onclick = () => ix.qna.upvote(q.questionId).catch((err) => showError($('askerr'), err));
      li.append(up, el('span', ` ${q.text}`));
      if (q.status === 'answered') li.append(el('div', `Answered${q.answer ? `: ${q.answer}` : ''}`, 'muted'));
      return li;
    }),
  );
}
ix.on('question', renderQuestions);
$('askform').onsubmit = async (e) => {
  e.preventDefault();
  const text = $('asktext').value.trim();
  if (!text) return;
  $('askerr').textContent = '';
  try {
    await ix.qna.ask(text);
    $('asktext').value = '';
  } catch (err) {
    showError($('askerr'), err);
  }
};

// ---- poll ----
let pollId = null;
ix.on('poll', (s) => {
  count('poll');
  if (!s.open && s.pollId !== pollId && pollId) return; // an old poll's late state
  pollId = s.pollId;
  $('poll').hidden = false;
  $('question').textContent = s.open ? s.question : `${s.question} (closed)`;
  $('options').replaceChildren(
    ...s.options.map((o, i) => {
      const b = el('button', `${o} · ${s.counts[i] ?? 0}`);
      b.type = 'button';
      b.disabled = !s.open;
      if (s.winners?.includes(i)) b.style.fontWeight = '800';
      b.onclick = () => ix.poll.vote(s.pollId, i).catch((err) => showError($('pollerr'), err));
      return b;
    }),
  );
});

// ---- auction ----
let lot = null;
let countdown;
function renderLot() {
  if (!lot) return;
  $('auction').hidden = false;
  $('lot').textContent = lot.title;
  $('high').textContent = lot.bids ? money(lot.highAmount) : `starts at ${money(lot.startPrice)}`;
  $('bidder').textContent = lot.bids ? `by ${lot.highBidder}` : '';
  $('bid').textContent = `Bid ${money(lot.minNext)}`;
  $('bid').disabled = !lot.open || lot.closing || lot.highBidder === ix.welcome?.identity;
  clearInterval(countdown);
  const tick = () => {
    const left = Math.max(0, lot.endsAt - Date.now());
    $('countdown').textContent = lot.open ? `${Math.ceil(left / 1000)} s left` : lot.sold ? 'sold' : 'closed';
  };
  tick();
  if (lot.open) countdown = setInterval(tick, 250);
}
ix.on('auction', (s) => {
  if (lot && s.lotId !== lot.lotId && !s.open) return;
  lot = s;
  page.lot = s;
  renderLot();
});
ix.on('outbid', (o) => ($('biderr').textContent = `You were outbid: ${money(o.highAmount)}`));
$('bid').onclick = async () => {
  if (!lot) return;
  $('biderr').textContent = '';
  try {
    const ack = await ix.auction.bid(lot.lotId, lot.minNext);
    count('bidAck');
    $('biderr').textContent = `Your bid of ${money(ack.amount)} is in`;
  } catch (err) {
    showError($('biderr'), err);
  }
};

// ---- gifts ----
for (const b of document.querySelectorAll('[data-gift]')) {
  b.onclick = async () => {
    $('gifterr').textContent = '';
    try {
      await ix.gift({ gift: b.dataset.gift, amount: Number(b.dataset.amount), currency: 'EUR' });
      count('giftAck');
    } catch (err) {
      showError($('gifterr'), err);
    }
  };
}

// ---- on the picture, on their frame ----
function flash(text, ms) {
  const a = el('div', text, 'alert');
  $('alerts').append(a);
  setTimeout(() => a.remove(), ms);
}
player.onFrameEvent(({ envelope: env, late, offsetMs }) => {
  const pl = env.payload;
  let text;
  if (env.type === 'alert') text = pl.text;
  else if (env.type === 'gift.alert') text = `${pl.name || pl.from} sent ${pl.gift} (${money(pl.amount, pl.currency)})`;
  else if (env.type === 'auction.closed') {
    $('sold').textContent = pl.sold ? `SOLD to ${pl.winner} · ${money(pl.amount)}` : 'Not sold';
    $('sold').hidden = false;
    setTimeout(() => ($('sold').hidden = true), 5000);
    text = null;
  }
  if (env.type === 'alert' || env.type === 'gift.alert' || env.type === 'auction.closed') {
    page.alerts.push({ type: env.type, mediaTime: env.mediaTime, late, offsetMs, payload: pl });
  }
  if (text) flash(text, pl.durationMs || 4000);
});

ix.on('media.clock', () => count('media.clock'));
ix.on('presence', ({ viewers }) => ($('viewers').textContent = `${viewers} watching`));

player.play().catch((err) => showError(null, err));
