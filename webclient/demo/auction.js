// Watch a Glint room over WHEP and take part in its auctions, with the SDK's Player and
// its interaction over the data channel (docs/SDK.md, docs/PROTOCOL.md): the page shows the
// lot, places bids, and shows "outbid" and "sold" when the server says so.
//
// Query: room, token (with canSubscribe and canPublishData), server (another Glint server;
// the SDK is loaded from it). window.glint (page.js) also has, for tests: events (every
// envelope the server sent, answers aside), bid(amount) (returns the bidId) and banner
// (the text shown).
import { fail, glint, loadSDK, params, watchPlayer } from './page.js';

const p = params();
const $ = (id) => document.getElementById(id);
$('room').textContent = p.room;
glint.events = [];
glint.banner = '';
let lot = null; // the open lot's last auction.state

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

async function main() {
  const { Player, uniqueId } = await loadSDK(p);
  const player = new Player({ server: p.server, room: p.room, token: p.token, video: $('remote'), fallback: 'never' });
  const ix = player.interaction;
  ix.on('envelope', (env) => glint.events.push(env));
  ix.on('auction', onState);
  ix.on('outbid', (o) => show('outbid', `You were outbid: ${o.highAmount} is the high bid now, ${o.minNext} to lead again.`));
  ix.on('sold', (c) => {
    show('sold', c.sold ? `SOLD to ${c.winner} for ${c.amount}` : 'Closed: not sold');
    $('bid').disabled = true;
  });

  // bid sends a bid on the open lot and shows the server's answer; the SDK repeats it with
  // the same bidId if the connection drops before the answer, so it is never placed twice.
  glint.bid = (amount) => {
    if (!ix.connected) throw new Error('the interaction channel is not open');
    if (!lot) throw new Error('no lot is open');
    const bidId = uniqueId('bid');
    ix.auction.bid(lot.lotId, amount, bidId).then(
      (ack) => show('leading', `Your bid of ${ack.amount} leads.`),
      (err) => show('error', `Refused: ${err.serverMessage || err.message}`),
    );
    return bidId;
  };
  $('bid').onclick = () => {
    try {
      glint.bid(Number($('amount').value));
    } catch (err) {
      show('error', err.message);
    }
  };
  watchPlayer(player);
  await player.play();
}

main().catch(fail);
