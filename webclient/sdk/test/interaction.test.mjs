// The interaction client's request/answer matching, retries and room state, against a
// scripted transport that answers as docs/PROTOCOL.md says the server does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter, GlintError, Interaction } from '../dist/glint.js';

// wire records what the client sends and lets a test answer it.
function wire() {
  const sent = [];
  return { sent, send: (t) => sent.push(JSON.parse(t)), last: () => sent[sent.length - 1] };
}

const answer = (ix, env) => ix.receive(JSON.stringify({ v: 1, room: 'show', ...env }));

test('an ack resolves the request it names; an error rejects with the code', async () => {
  const ix = new Interaction({ timeoutMs: 1000 });
  const w = wire();
  ix.attach(w);
  const a = ix.chat.send('hi');
  const b = ix.chat.send('there');
  const [ea, eb] = w.sent;
  assert.equal(ea.type, 'chat.send');
  assert.deepEqual(ea.payload, { text: 'hi' });
  assert.notEqual(ea.id, eb.id);
  answer(ix, { type: 'error', id: eb.id, payload: { code: 'slow_mode', message: 'slow mode: wait 3 s', ref: eb.id } });
  answer(ix, { type: 'ack', id: ea.id, payload: { messageId: 'm1' } });
  assert.deepEqual(await a, { messageId: 'm1' });
  await assert.rejects(b, (err) => err instanceof GlintError && err.code === 'slow_mode' && err.serverMessage === 'slow mode: wait 3 s');
  ix.close();
});

test('a bid is resent with the same id and bidId after a reconnect, and carries mediaTime', async () => {
  const ix = new Interaction({ timeoutMs: 2000, mediaTime: () => 1234.4 });
  const w1 = wire();
  ix.attach(w1);
  const bid = ix.auction.bid('lot7', 10500);
  const first = w1.last();
  assert.equal(first.mediaTime, 1234);
  ix.detach(w1);
  const w2 = wire();
  ix.attach(w2);
  assert.equal(w2.sent.length, 1);
  assert.equal(w2.sent[0].id, first.id);
  assert.equal(w2.sent[0].payload.bidId, first.payload.bidId);
  answer(ix, { type: 'ack', id: first.id, payload: { lotId: 'lot7', bidId: first.payload.bidId, amount: 10500, logSeq: 9, duplicate: true, endsAt: 1 } });
  assert.equal((await bid).logSeq, 9);
  ix.close();
});

test('a chat line whose connection went is refused, not resent', async () => {
  const ix = new Interaction({ timeoutMs: 2000 });
  const w = wire();
  ix.attach(w);
  const p = ix.chat.send('hello');
  ix.detach(w);
  await assert.rejects(p, (err) => err.code === 'not_connected');
  await assert.rejects(ix.chat.send('offline'), (err) => err.code === 'not_connected');
  ix.close();
});

test('detaching another transport leaves the current one', () => {
  const ix = new Interaction();
  const a = wire();
  const b = wire();
  ix.attach(a);
  ix.attach(b);
  ix.detach(a);
  assert.equal(ix.connected, true);
  ix.detach(b);
  assert.equal(ix.connected, false);
  ix.close();
});

test('unavailable is retried with the same id; a gift never doubles', async () => {
  const ix = new Interaction({ timeoutMs: 5000 });
  const w = wire();
  ix.attach(w);
  const gift = ix.gift({ gift: 'rose', amount: 500, currency: 'EUR' });
  const first = w.last();
  answer(ix, { type: 'error', id: first.id, payload: { code: 'unavailable', message: 'bus slow' } });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(w.sent.length, 2);
  assert.deepEqual(w.sent[1], first);
  answer(ix, { type: 'ack', id: first.id, payload: { key: first.payload.key, logSeq: 77, duplicate: false } });
  assert.equal((await gift).logSeq, 77);
  ix.close();
});

test('a request unanswered in time is refused with timeout', async () => {
  const ix = new Interaction({ timeoutMs: 50 });
  ix.attach(wire());
  await assert.rejects(ix.qna.ask('anyone?'), (err) => err.code === 'timeout');
  ix.close();
});

test('batched frames, room state and the typed events', () => {
  const ix = new Interaction();
  ix.attach(wire());
  const seen = [];
  ix.on('room', (r) => seen.push(['room', r.live, r.reason ?? '']));
  ix.on('chat', (m) => seen.push(['chat', m.text]));
  ix.on('auction', (s) => seen.push(['auction', s.highAmount]));
  ix.on('presence', (p) => seen.push(['presence', p.viewers]));
  ix.on('quality', (q) => seen.push(['quality', q.reduced, q.reason ?? '']));
  ix.receive(
    JSON.stringify([
      { v: 1, type: 'room.live', seq: 1, payload: { since: 1, epoch: 1 } },
      { v: 1, type: 'chat.message', seq: 2, payload: { messageId: 'm1', from: 'a', text: 'yo', at: 1 } },
      { v: 1, type: 'auction.state', seq: 3, payload: { lotId: 'l', highAmount: 0, highBidder: '' } },
      { v: 1, type: 'future.thing', seq: 4, payload: {} },
      { v: 1, type: 'presence', seq: 5, payload: { viewers: 3 } },
      { v: 1, type: 'room.quality', seq: 6, payload: { reduced: true, reason: 'the server cannot keep up' } },
      { v: 1, type: 'room.ended', seq: 7, payload: { reason: 'gone', since: 2 } },
    ]),
  );
  ix.receive('not json');
  assert.deepEqual(seen, [
    ['room', true, ''],
    ['chat', 'yo'],
    ['auction', 0],
    ['presence', 3],
    ['quality', true, 'the server cannot keep up'],
    ['room', false, 'gone'],
  ]);
  assert.deepEqual(ix.quality, { reduced: true, reason: 'the server cannot keep up' });
  assert.equal(ix.chatLog.length, 1);
  assert.equal(ix.lots.get('l').highAmount, 0);
  assert.equal(ix.viewers, 3);
  ix.close();
});

test('a listener that throws does not stop the others', () => {
  class E extends Emitter {
    fire(v) {
      this.emit('x', v);
    }
  }
  const e = new E();
  const got = [];
  const orig = console.error;
  console.error = () => {};
  try {
    e.on('x', () => {
      throw new Error('boom');
    });
    e.on('x', (v) => got.push(v));
    e.fire(1);
  } finally {
    console.error = orig;
  }
  assert.deepEqual(got, [1]);
});

test('a new transport over a live one refuses the chat line instead of sending it twice', async () => {
  const ix = new Interaction({ timeoutMs: 2000 });
  const a = wire();
  ix.attach(a);
  const chat = ix.chat.send('once');
  const bid = ix.auction.bid('lot', 100);
  const b = wire();
  ix.attach(b); // a switch from the WebSocket to the data channel, without a detach first
  await assert.rejects(chat, (err) => err.code === 'not_connected');
  assert.deepEqual(b.sent.map((e) => e.type), ['auction.bid']);
  answer(ix, { type: 'ack', id: b.sent[0].id, payload: { lotId: 'lot', bidId: b.sent[0].payload.bidId, amount: 100, logSeq: 1, duplicate: false, endsAt: 1 } });
  assert.equal((await bid).logSeq, 1);
  ix.close();
});
