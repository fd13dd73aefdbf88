// Unit tests of the SDK's logic, run on the built bundle (what ships): node --test.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { FrameScheduler, GlintError, Nodes, backoffDelay, captureTime, discoverNodes, failsOver, parseLinks } from '../dist/glint.js';

test('backoffDelay grows, caps, jitters and honours Retry-After', () => {
  const o = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
  assert.equal(backoffDelay(0, o, undefined, () => 1), 100);
  assert.equal(backoffDelay(0, o, undefined, () => 0), 50);
  assert.equal(backoffDelay(3, o, undefined, () => 1), 800);
  assert.equal(backoffDelay(10, o, undefined, () => 1), 1000);
  assert.equal(backoffDelay(0, o, 2, () => 0), 2000);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(2, o);
    assert.ok(d >= 200 && d <= 400, `delay ${d} out of [200, 400]`);
  }
});

test('parseLinks reads ICE servers with credentials and alternates', () => {
  const l = parseLinks(
    '<stun:stun.example.net:3478>; rel="ice-server", <turn:turn.example.net?transport=udp>; rel="ice-server"; username="u1"; credential="p;w"; credential-type="password", </hls/show/index.m3u8>; rel="alternate"; type="application/vnd.apple.mpegurl"',
  );
  assert.deepEqual(l.iceServers, [
    { urls: 'stun:stun.example.net:3478' },
    { urls: 'turn:turn.example.net?transport=udp', username: 'u1', credential: 'p;w' },
  ]);
  assert.deepEqual(l.alternates, ['/hls/show/index.m3u8']);
  assert.deepEqual(parseLinks(null), { iceServers: [], alternates: [] });
  assert.deepEqual(parseLinks('garbage, <x>; rel=other'), { iceServers: [], alternates: [] });
});

test('captureTime maps RTP time through media.clock, across the 32-bit wrap', () => {
  const clock = { rtpTimestamp: 4294967000, mediaTime: 1_000_000, clockRate: 90000 };
  assert.equal(captureTime(4294967000, clock), 1_000_000);
  assert.equal(captureTime(4294967000 + 2700, clock) , 1_000_030); // 30 ms later, past the wrap
  assert.equal(captureTime((4294967000 + 2700) % 2 ** 32, clock), 1_000_030);
  assert.equal(captureTime(4294967000 - 9000, clock), 999_900);
});

function scheduler(opts) {
  const shown = [];
  const s = new FrameScheduler((e) => shown.push(e), opts);
  s.start();
  return { s, shown };
}

test('FrameScheduler holds an event until its frame, in media-time order', (t) => {
  const { s, shown } = scheduler({ toleranceMs: 16 });
  t.after(() => s.stop());
  s.onFrame(1000);
  s.push({ v: 1, type: 'alert', mediaTime: 1100, payload: { n: 2 } });
  s.push({ v: 1, type: 'alert', mediaTime: 1050, payload: { n: 1 } });
  assert.equal(shown.length, 0);
  s.onFrame(1033);
  assert.equal(shown.length, 0);
  s.onFrame(1066);
  assert.deepEqual(shown.map((e) => e.envelope.payload.n), [1]);
  assert.equal(shown[0].late, false);
  assert.equal(shown[0].offsetMs, 16);
  s.onFrame(1099);
  assert.deepEqual(shown.map((e) => e.envelope.payload.n), [1, 2]);
  assert.deepEqual(s.stats, { shown: 2, late: 0, skipped: 0, expired: 0 });
});

test('FrameScheduler shows a late event at once and counts it', (t) => {
  const { s, shown } = scheduler({ toleranceMs: 16 });
  t.after(() => s.stop());
  s.onFrame(2000);
  s.push({ v: 1, type: 'alert', mediaTime: 1990, payload: {} }); // within half a frame: on time
  s.push({ v: 1, type: 'alert', mediaTime: 1900, payload: {} }); // its frame went by
  s.push({ v: 1, type: 'chat.message', payload: {} }); // no media time: at once, not late
  assert.deepEqual(shown.map((e) => e.late), [false, true, false]);
  assert.deepEqual(s.stats, { shown: 3, late: 1, skipped: 0, expired: 0 });
});

test('FrameScheduler counts an event whose frame the player jumped over', (t) => {
  const { s, shown } = scheduler({ toleranceMs: 16 });
  t.after(() => s.stop());
  s.onFrame(1000);
  s.push({ v: 1, type: 'alert', mediaTime: 1100, payload: { n: 1 } });
  s.push({ v: 1, type: 'alert', mediaTime: 1500, payload: { n: 2 } });
  s.onFrame(1400); // an LL-HLS player jumped to the live edge: 1100 was never on screen
  assert.deepEqual(shown.map((e) => [e.envelope.payload.n, e.late, e.skipped, e.offsetMs]), [[1, false, true, 300]]);
  s.onFrame(1500);
  assert.deepEqual(shown.map((e) => e.skipped), [true, false]);
  assert.deepEqual(s.stats, { shown: 2, late: 0, skipped: 1, expired: 0 });
});

test('FrameScheduler does not count a low frame rate as a jump', (t) => {
  const { s, shown } = scheduler({ toleranceMs: 16 });
  t.after(() => s.stop());
  s.onFrame(1000);
  s.push({ v: 1, type: 'alert', mediaTime: 1033, payload: {} }); // between two 15 fps frames
  s.onFrame(1066);
  assert.deepEqual(shown.map((e) => [e.late, e.skipped]), [[false, false]]);
});

test('FrameScheduler releases an event whose frame never comes', (t) => {
  const { s, shown } = scheduler({ maxHoldMs: 500 });
  t.after(() => s.stop());
  s.push({ v: 1, type: 'alert', mediaTime: 5000, payload: {} }, 10_000);
  s.expire(10_400);
  assert.equal(shown.length, 0);
  s.expire(10_500);
  assert.equal(shown.length, 1);
  assert.equal(s.stats.expired, 1);
});

test('FrameScheduler not started shows everything at once', () => {
  const shown = [];
  const s = new FrameScheduler((e) => shown.push(e));
  s.push({ v: 1, type: 'alert', mediaTime: 5000, payload: {} });
  assert.equal(shown.length, 1);
});

test('Nodes goes round the cluster in turn, server first', () => {
  const n = new Nodes('http://a/', ['http://b', 'http://c//', 'http://a']);
  assert.ok(n.many);
  assert.equal(n.after('http://a'), 'http://b');
  assert.equal(n.after('http://b/'), 'http://c');
  assert.equal(n.after('http://c'), 'http://a');
  assert.equal(n.after('http://elsewhere'), 'http://a');
  assert.ok(!new Nodes('http://a', ['http://a/']).many, 'one node twice is one node');
  assert.ok(!new Nodes('http://a').many);
  const ep = { server: 'http://c' };
  assert.deepEqual(n.moveOn(ep), { from: 'http://c', to: 'http://a' });
  assert.equal(ep.server, 'http://a');
});

test('Nodes learns the nodes a server lists (GET /nodes), after those it was given', async () => {
  const server = http.createServer((req, res) => {
    if (req.url !== '/nodes') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ nodes: [{ url: 'http://b/' }, { url: 'http://d' }, { url: 'javascript:alert(1)' }, { url: 7 }, {}] }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    assert.deepEqual(await discoverNodes(`${base}/`), ['http://b/', 'http://d'], 'only http(s) URLs');
    assert.deepEqual(await discoverNodes(`${base}/elsewhere`), [], 'a 404 (a node alone, an older server) is none');
    assert.equal(await discoverNodes('http://127.0.0.1:1'), null, 'no answer is no word');
    const n = new Nodes('http://a', ['http://b']);
    n.learn(await discoverNodes(base) ?? []);
    assert.equal(n.after('http://b'), 'http://d', 'learned after the given ones, once each');
    assert.equal(n.after('http://d'), 'http://a');
    // Learned nodes come in a random order (a lost node's viewers spread out), all of them.
    const orders = new Set();
    for (let i = 0; i < 50; i++) {
      const m = new Nodes('http://a');
      m.learn(['http://b', 'http://c', 'http://d', 'http://c/']);
      const ring = [m.after('http://a'), m.after(m.after('http://a')), m.after(m.after(m.after('http://a')))];
      assert.deepEqual([...ring].sort(), ['http://b', 'http://c', 'http://d']);
      orders.add(ring.join());
    }
    assert.ok(orders.size > 1, 'fifty rings learned in one order');
    const lone = new Nodes('http://a');
    lone.learn(['http://a/']);
    assert.ok(!lone.many, 'itself listed is no other node');
    // A newer answer replaces what was learned: a node gone from it is dropped.
    const moving = new Nodes('http://a', ['http://b']);
    moving.learn(['http://c', 'http://d']);
    moving.learn(['http://a', 'http://d']);
    assert.equal(moving.after('http://b'), 'http://d');
    assert.equal(moving.after('http://d'), 'http://a', 'http://c is gone');
  } finally {
    server.close();
  }
});

test('failsOver moves on from a lost or failing node, never on the room\'s answers', () => {
  const http = (status, alternate) => new GlintError('http', `HTTP ${status}`, { status, alternate });
  for (const e of [new GlintError('network', 'refused'), new GlintError('timeout', 'slow'), new GlintError('ice', 'lost'), http(500), http(502), http(503), http(504)]) {
    assert.ok(failsOver(e), `${e.code} ${e.status ?? ''} stays`);
  }
  for (const e of [http(400), http(401), http(403), http(404), http(429), http(503, 'http://a/hls/r/index.m3u8'), new GlintError('closed', 'stop'), new GlintError('media', 'no camera')]) {
    assert.ok(!failsOver(e), `${e.code} ${e.status ?? ''} fails over`);
  }
});
