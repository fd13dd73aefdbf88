// Watch a Glint room over WHEP and take part in its auctions over the interaction data
// channel (docs/PROTOCOL.md): the page shows the lot, places bids, and shows "outbid"
// and "sold" when the server says so. Plain JS until the SDK exists.
//
// window.glint also has, for tests: events (every envelope received), bid(amount) and
// banner (the text shown).
import { connect, envelopes, fail, glint, INTERACTION_PROTOCOLS, params } from './whip.js';

const p = params();
const LABEL = 'glint.v1';
const $ = (id) => document.getElementById(id);
$('room').textContent = p.room;
glint.events = [];
glint.banner = '';
let lot = null; // the open lot's last auction.state
let dc = null;
let nextId = 1;

function show(kind, text) {
  glint.banner = text;
  $('banner').textContent = text;
  $('banner').dataset.kind = kind;
}

function onState(s) {
  lot = s;
  $('lot').textContent = s.open ? `${s.title || s.lotId} (open)` : `${s.title || s.lotId} (closed)`;
  $('high').textContent = s.highAmount ? String(s.highAmount) : '—';
  $('leader').textContent = s.highBidder || '—';
  $('amount').value = String(s.minNext || s.startPrice || '');
  $('bid').disabled = !s.open;
}

function onEnvelope(env) {
  glint.events.push(env);
  const pl = env.payload || {};
  switch (env.type) {
    case 'auction.state':
      onState(pl);
      break;
    case 'auction.outbid':
      show('outbid', `You were outbid: ${pl.highAmount} is the high bid now, ${pl.minNext} to lead again.`);
      break;
    case 'auction.closed':
      show('sold', pl.sold ? `SOLD to ${pl.winner} for ${pl.amount}` : 'Closed: not sold');
      $('bid').disabled = true;
      break;
    case 'ack':
      if (pl.bidId) show('leading', `Your bid of ${pl.amount} leads.`);
      break;
    case 'error':
      show('error', `Refused: ${pl.message}`);
      break;
  }
}

glint.bid = (amount) => {
  if (!dc || dc.readyState !== 'open') throw new Error('the interaction channel is not open');
  if (!lot) throw new Error('no lot is open');
  const id = `b${nextId++}`;
  dc.send(JSON.stringify({ v: 1, type: 'auction.bid', id, payload: { lotId: lot.lotId, bidId: id, amount } }));
  return id;
};

async function main() {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  // Reliable and ordered: bids must not be lost or reordered. The protocol asks for batched frames.
  dc = pc.createDataChannel(LABEL, { protocol: INTERACTION_PROTOCOLS[0] });
  dc.onmessage = (e) => envelopes(e.data).forEach(onEnvelope);
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    $('remote').srcObject = stream;
  };
  $('bid').onclick = () => {
    try {
      glint.bid(Number($('amount').value));
    } catch (err) {
      show('error', err.message);
    }
  };
  await connect(pc, 'whep', p);
}

main().catch(fail);
