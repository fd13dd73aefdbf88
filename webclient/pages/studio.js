// The host studio: go live from the camera or the screen (or see the RTMP settings), and
// run the room: lots, polls, Q&A, alerts, chat, gifts and the viewer count. Built on the
// SDK only. Interaction rides a WebSocket so that the room can be run before going live.
//
// Query: room, token (canPublish, roomAdmin and canPublishData for the room), server,
// servers (more nodes of the cluster the broadcast fails over to, comma-separated).
import { InteractionSocket, Publisher, roomCategories, setRoomMetadata } from '/sdk/glint.js';
import { $, append, count, el, money, page, params, showError } from './common.js';

const p = params();
$('room').textContent = p.room;
$('watchlink').href = `/watch.html?${new URLSearchParams({ room: p.room })}`;
$('rtmpserver').textContent = `rtmp://${location.hostname}/live`;
$('copykey').onclick = () => navigator.clipboard?.writeText(p.token ?? '');

// The room's controls fail over with the broadcast: to the next of servers, or of the
// nodes the socket learned (GET /nodes), when their node is lost.
const socket = new InteractionSocket({ server: p.server, room: p.room, token: p.token }, undefined, { servers: p.servers });
Object.defineProperty(page, 'socketServer', { get: () => socket.server, enumerable: true });
const ix = socket.interaction;
page.interaction = ix;
socket.connect().then(() => (page.connected = true));

// ---- going live ----
let publisher = null;
function setState(s) {
  page.state = s;
  $('state').textContent = s;
  $('state').dataset.state = s;
  $('overlay').hidden = s === 'live';
  $('overlay').textContent = { idle: 'Not live', connecting: 'Going live…', reconnecting: 'Reconnecting…', failed: 'Could not go live', stopped: 'Stopped' }[s] ?? s;
  const busy = s === 'connecting' || s === 'live' || s === 'reconnecting';
  $('camera').disabled = $('screen').disabled = busy;
  $('stop').disabled = !busy;
}
async function goLive(source) {
  $('liveerr').textContent = '';
  publisher?.stop(); // a failed one may still hold the camera
  publisher = new Publisher({ server: p.server, servers: p.servers, room: p.room, token: p.token, source, simulcast: $('simulcast').checked, preview: $('preview') });
  page.publisher = publisher;
  publisher.on('state', setState);
  publisher.on('failover', ({ to, error }) => (page.failovers = [...(page.failovers ?? []), { t: Date.now(), to, error: error.message }]));
  publisher.on('error', (err) => showError($('liveerr'), err));
  try {
    await publisher.start();
  } catch (err) {
    showError($('liveerr'), err);
  }
}
$('camera').onclick = () => goLive('camera');
$('screen').onclick = () => goLive('screen');
$('stop').onclick = () => {
  publisher?.stop();
  publisher = null;
  setState('stopped');
};

// ---- stream info: title, category and tags for the directory ----
roomCategories(p.server)
  .then((names) => {
    for (const name of names) $('infocategory').append(el('option', name));
    page.categories = names.length;
  })
  .catch((err) => showError($('infoerr'), err));
$('infoform').onsubmit = async (e) => {
  e.preventDefault();
  $('infoerr').textContent = '';
  const tags = $('infotags').value.split(',').map((t) => t.trim()).filter(Boolean);
  try {
    const md = await setRoomMetadata({ server: p.server, room: p.room, token: p.token }, { title: $('infotitle').value.trim(), category: $('infocategory').value, tags });
    page.metadata = md;
    $('infostate').textContent = `In the directory under ${md.category} as “${md.title}”.`;
  } catch (err) {
    showError($('infoerr'), err);
  }
};

// ---- auction ----
let lot = null;
ix.on('auction', (s) => {
  lot = s;
  page.lot = s;
  const high = s.bids ? `${money(s.highAmount)} by ${s.highBidder}` : `no bids (from ${money(s.startPrice)})`;
  $('lotstate').textContent = `${s.title}: ${high}${s.open ? '' : s.sold ? ' · SOLD' : ' · closed'}`;
  $('lotclose').hidden = !s.open;
});
$('lotform').onsubmit = async (e) => {
  e.preventDefault();
  $('loterr').textContent = '';
  try {
    await ix.auction.open({
      title: $('lottitle').value.trim(),
      startPrice: Math.round(Number($('lotstart').value) * 100),
      increment: Math.round(Number($('lotinc').value) * 100),
      durationMs: Number($('lotsecs').value) * 1000,
    });
  } catch (err) {
    showError($('loterr'), err);
  }
};
$('lotclose').onclick = () => lot && ix.auction.close(lot.lotId).catch((err) => showError($('loterr'), err));

// ---- poll ----
ix.on('poll', (s) => {
  page.poll = s;
  const tally = s.options.map((o, i) => `${o}: ${s.counts[i] ?? 0}`).join(' · ');
  $('pollstate').textContent = `${s.question} — ${tally}${s.open ? '' : ' (closed)'}`;
});
$('pollform').onsubmit = async (e) => {
  e.preventDefault();
  $('pollerr').textContent = '';
  const options = $('pollopts').value.split(',').map((o) => o.trim()).filter(Boolean);
  try {
    await ix.poll.open({ question: $('pollq').value.trim(), options, durationMs: Number($('pollsecs').value) * 1000 });
  } catch (err) {
    showError($('pollerr'), err);
  }
};

// ---- alert ----
$('alertform').onsubmit = async (e) => {
  e.preventDefault();
  $('alerterr').textContent = '';
  try {
    await ix.alert('host', $('alerttext').value.trim());
    $('alerttext').value = '';
  } catch (err) {
    showError($('alerterr'), err);
  }
};

// ---- chat ----
const line = (m) => {
  const li = el('li');
  li.append(el('span', m.name || m.from, 'who'), el('span', m.text));
  return li;
};
ix.on('chat.history', (h) => $('messages').replaceChildren(...h.messages.map(line)));
ix.on('chat', (m) => {
  count('chat');
  append($('messages'), line(m));
});
$('chatform').onsubmit = async (e) => {
  e.preventDefault();
  const text = $('chattext').value.trim();
  if (!text) return;
  try {
    await ix.chat.send(text);
    $('chattext').value = '';
  } catch (err) {
    showError($('chaterr'), err);
  }
};

// ---- Q&A ----
ix.on('question', () => {
  const qs = [...ix.questions.values()].filter((q) => q.status === 'open').sort((a, b) => b.votes - a.votes);
  $('questions').replaceChildren(
    ...qs.map((q) => {
      const li = el('li');
      const answer = el('button', 'Answered');
      answer.type = 'button';
      answer.onclick = () => ix.qna.answer(q.questionId).catch((err) => showError(null, err));
      const dismiss = el('button', 'Dismiss');
      dismiss.type = 'button';
      dismiss.onclick = () => ix.qna.dismiss(q.questionId).catch((err) => showError(null, err));
      li.append(el('span', `${q.text} (${q.votes}) `), answer, dismiss);
      return li;
    }),
  );
});

// ---- gifts and viewers ----
ix.on('gift', (g) => {
  count('gift');
  append($('gifts'), el('li', `${g.name || g.from}: ${g.gift} ${money(g.amount, g.currency)}${g.message ? ` — ${g.message}` : ''}`));
});
ix.on('presence', ({ viewers }) => ($('viewers').textContent = `${viewers} watching`));
