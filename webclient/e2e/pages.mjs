// The pages built on the SDK (watch.html, studio.html), end to end in the system's
// headless Chromium (never a downloaded one), against a Glint server that the Go test
// (cmd/glint TestBrowserPages) runs and restarts on request:
//
//  1. an anonymous viewer opens the watch page before the host: it shows "waiting";
//  2. the host goes live from the studio (the fake camera, simulcast): the anonymous
//     viewer plays by itself, and so do alice and bob (viewer tokens); the host names the
//     stream (title, category, tags) in the studio and the directory lists it under Music;
//  3. chat from alice reaches bob and the studio; a poll from the studio gets alice's
//     vote; a lot opened in the studio gets bids from alice and bob, the studio closes it
//     and both watch pages show SOLD to the high bidder; alice's gift reaches the studio
//     and shows over the video; the studio's alert shows on every watch page;
//  4. the server restarts (--control URL/restart): every page recovers by itself (the
//     studio republishes, the viewers play again) and the time is reported;
//  5. the host stops: every viewer shows "ended", and the time is reported.
//
// Prints one JSON line ({ok, reason, waitingToLiveMs, restartRecoverMs, endedMs, …}).
import { Side, firstLine, parseCli, run, sleep } from './lib.mjs';

const opts = parseCli({
  name: 'pages',
  usageLine:
    'usage: node e2e/pages.mjs --server URL --room ROOM --host-token T --alice-token T --bob-token T --control URL',
  seconds: '10',
  options: {
    'host-token': { type: 'string' },
    'alice-token': { type: 'string' },
    'bob-token': { type: 'string' },
    control: { type: 'string' },
  },
  extra: (v, usage) => {
    for (const k of ['host-token', 'alice-token', 'bob-token', 'control']) if (!v[k]) usage(`--${k} is required`);
    return { hostToken: v['host-token'], aliceToken: v['alice-token'], bobToken: v['bob-token'], control: v.control };
  },
});

const STEP_MS = 20_000; // any one step's liveness bound; the figures are reported, not asserted tight
const ENDED_BOUND_MS = 4_000; // the figure is 2 s; the bound leaves room for a loaded CI machine
const RECOVER_BOUND_MS = 10_000; // the figure is 5 s
const url = (file, q) => `${opts.server}/${file}?${new URLSearchParams({ room: opts.room, ...q })}`;

const studio = new Side('studio');
const anon = new Side('anonymous');
const alice = new Side('alice');
const bob = new Side('bob');
const viewers = [anon, alice, bob];
const result = {};

async function until(side, fn, arg, what, ms = STEP_MS) {
  try {
    await side.page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
  } catch (err) {
    const s = await side.eval(() => ({ state: window.glintPage?.state, errors: window.glintPage?.errors })).catch(() => ({}));
    throw new Error(`${side.name}: ${what} not within ${ms / 1000} s (state ${s.state}, errors ${JSON.stringify(s.errors ?? [])}): ${firstLine(err)}`);
  }
}

const state = (side) => side.eval(() => window.glintPage.state);
const frames = (side) => side.eval(async () => (await window.glintPage.player.stats()).framesDecoded);

// playing waits until the viewer is live and decoding frames.
async function playing(side, ms = STEP_MS) {
  await until(side, () => window.glintPage.state === 'live', null, 'live', ms);
  const f0 = await frames(side);
  await until(side, async (f) => (await window.glintPage.player.stats()).framesDecoded > f + 5, f0, 'frames decoding', ms);
}

async function click(side, selector) {
  await side.page.click(selector, { timeout: 5000 });
}

async function fill(side, selector, value) {
  await side.page.fill(selector, value, { timeout: 5000 });
}

async function test(browser) {
  // 1. before the host
  await anon.open(browser, url('watch.html', {}));
  await until(anon, () => ['waiting', 'connecting'].includes(window.glintPage.state), null, 'waiting');
  await sleep(1000);
  const before = await state(anon);
  if (before !== 'waiting') throw new Error(`anonymous viewer before the host: state ${before}, want waiting`);

  // 2. the host goes live
  await studio.open(browser, url('studio.html', { token: opts.hostToken }));
  await until(studio, () => window.glintPage.connected === true, null, 'interaction connected');
  const goLive = Date.now();
  await click(studio, '#camera');
  await until(studio, () => window.glintPage.state === 'live', null, 'studio live');
  await playing(anon);
  result.waitingToLiveMs = Date.now() - goLive;
  await alice.open(browser, url('watch.html', { token: opts.aliceToken }));
  await bob.open(browser, url('watch.html', { token: opts.bobToken }));
  await Promise.all([playing(alice), playing(bob)]);

  // The host names the stream in the studio: the directory lists it under its category.
  await until(studio, () => window.glintPage.categories === 22, null, 'the platform\'s 22 categories in the studio');
  await fill(studio, '#infotitle', 'Vinyl night');
  await studio.page.selectOption('#infocategory', 'Music', { timeout: 5000 });
  await fill(studio, '#infotags', 'jazz, records');
  await click(studio, '#infoform button');
  await until(studio, () => window.glintPage.metadata?.category === 'Music', null, 'the stream info saved');
  const listed = await studio.eval(async (room) => {
    const res = await fetch(`/directory?category=Music`, { cache: 'no-store' });
    const body = await res.json();
    return body.rooms?.find((r) => r.room === room) ?? null;
  }, opts.room);
  if (listed?.title !== 'Vinyl night') throw new Error(`the directory under Music: ${JSON.stringify(listed)}, want the room titled Vinyl night`);

  // 3. interaction between the pages
  await fill(alice, '#chattext', 'hello from alice');
  await click(alice, '#chatform button');
  for (const side of [bob, studio]) {
    await until(side, () => [...document.querySelectorAll('#messages li')].some((li) => li.textContent.includes('hello from alice')), null, 'alice\'s chat');
  }

  await fill(studio, '#pollq', 'Next song?');
  await fill(studio, '#pollopts', 'jazz, rock');
  await click(studio, '#pollform button');
  await until(alice, () => document.querySelectorAll('#options button').length === 2, null, 'the poll');
  await click(alice, '#options button:nth-child(2)');
  await until(studio, () => window.glintPage.poll?.counts?.[1] === 1, null, 'alice\'s vote counted');

  await fill(studio, '#lottitle', 'Blue vase');
  await click(studio, '#lotform button');
  await until(alice, () => window.glintPage.lot?.open === true, null, 'the lot');
  await click(alice, '#bid');
  await until(bob, () => window.glintPage.lot?.bids === 1, null, 'alice\'s bid');
  await click(bob, '#bid');
  await until(alice, () => window.glintPage.lot?.bids === 2 && window.glintPage.lot?.highBidder === 'bob', null, 'bob\'s bid');
  await click(studio, '#lotclose');
  for (const side of [alice, bob]) {
    await until(side, () => !document.getElementById('sold').hidden && document.getElementById('sold').textContent.includes('SOLD to bob'), null, 'SOLD to bob');
  }
  const aliceAcks = await alice.eval(() => window.glintPage.events.bidAck ?? 0);
  if (aliceAcks !== 1) throw new Error(`alice's bid acks: ${aliceAcks}, want 1`);

  await click(alice, '[data-gift="star"]');
  await until(studio, () => document.querySelectorAll('#gifts li').length === 1, null, 'alice\'s gift in the studio');
  await until(bob, () => window.glintPage.alerts.some((a) => a.type === 'gift.alert'), null, 'the gift over the video');

  await fill(studio, '#alerttext', 'Thanks for watching!');
  await click(studio, '#alertform button');
  for (const side of viewers) {
    await until(side, () => window.glintPage.alerts.some((a) => a.type === 'alert'), null, 'the host\'s alert');
  }
  result.alerts = await bob.eval(() => window.glintPage.alerts.map((a) => ({ type: a.type, late: a.late, offsetMs: a.offsetMs })));

  // 4. the server restarts
  const res = await fetch(`${opts.control}/restart`, { method: 'POST' });
  if (!res.ok) throw new Error(`restart: HTTP ${res.status} ${await res.text()}`);
  const back = Date.now();
  await until(studio, () => window.glintPage.state === 'live', null, 'studio live again', RECOVER_BOUND_MS);
  await Promise.all(viewers.map((v) => playing(v, RECOVER_BOUND_MS)));
  result.restartRecoverMs = Date.now() - back;

  // 5. the host stops
  const stop = Date.now();
  await click(studio, '#stop');
  await Promise.all(viewers.map((v) => until(v, () => window.glintPage.state === 'ended', null, 'ended', ENDED_BOUND_MS)));
  result.endedMs = Date.now() - stop;
  const overlay = await alice.eval(() => document.getElementById('overlay').textContent);
  if (!/ended/i.test(overlay)) throw new Error(`alice's overlay after the host stopped: ${JSON.stringify(overlay)}`);
}

await run({
  name: 'pages',
  overallMs: 115_000,
  sides: [studio, anon, alice, bob],
  test,
  result: () => result,
});
