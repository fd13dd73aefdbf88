// A cluster node killed under its viewers, in real Chromium: a host page publishes the fake
// camera to node A (demo/publish.html); a viewer plays the room from node B's watch page
// (B relays the room from A) with servers=C, the SDK's failover list. Node B's process is
// killed with SIGKILL (--kill-pid); the viewer must then play again from node C (which
// relays the room from A in turn): player.server is C and frames keep being presented.
//
//   node e2e/failover.mjs --server A --room R --publish-token T --play-server B \
//     --failover-server C --kill-pid PID [--seconds 3] [--max-failover-ms 10000]
//
// failoverMs, from the kill to the first frame presented from C, is reported (issue 12 asks
// for 5 s) and asserted only below --max-failover-ms on a shared machine; detectMs is its
// part until the player gave B up. --seconds is how long the viewer must go on playing from
// C. Prints one JSON line; exit 0 pass, 1 fail, 2 bad usage.
import { Side, parseCli, run, sleep } from './lib.mjs';

const url = (v, name, usage) => {
  if (!v || !URL.canParse(v)) usage(`--${name} is required, a URL`);
  return new URL(v).href.replace(/\/+$/, '');
};

const opts = parseCli({
  name: 'failover',
  usageLine:
    'usage: node e2e/failover.mjs --server A --room ROOM --publish-token T --play-server B --failover-server C --kill-pid PID [--seconds 3] [--max-failover-ms 10000]',
  seconds: '3',
  maxSeconds: 10,
  options: {
    'play-server': { type: 'string' },
    'failover-server': { type: 'string' },
    'kill-pid': { type: 'string' },
    'max-failover-ms': { type: 'string', default: '10000' },
  },
  extra: (v, usage) => {
    const pid = Number(v['kill-pid']);
    if (!Number.isInteger(pid) || pid <= 1) usage('--kill-pid is required: the process id of node B');
    return {
      playServer: url(v['play-server'], 'play-server', usage),
      failoverServer: url(v['failover-server'], 'failover-server', usage),
      pid,
      maxFailoverMs: Number(v['max-failover-ms']),
    };
  },
});

const PLAYING_MS = 25_000; // the viewer playing from B, the relay included

const host = new Side('host');
const viewer = new Side('viewer');
const result = {};

// The viewer page's own record of presented frames (requestVideoFrameCallback), with
// Date.now(): one clock with this script's.
const WATCH_FRAMES = () => {
  window.frames_ = { n: 0, last: 0 };
  const video = document.getElementById('video');
  const tick = () => {
    window.frames_.n++;
    window.frames_.last = Date.now();
    video.requestVideoFrameCallback(tick);
  };
  video.requestVideoFrameCallback(tick);
};

const look = () =>
  viewer.eval(() => ({
    state: window.glintPage.state,
    server: window.glintPage.player.server,
    frames: window.frames_.n,
    lastFrame: window.frames_.last,
    failovers: window.glintPage.failovers ?? [],
    height: document.getElementById('video').videoHeight,
  }));

// until polls check() every 100 ms until it returns { ok: true, ... }, which it returns, or
// throws what(last) after ms.
async function until(ms, check, what) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await check();
    if (last?.ok) return last;
    if (Date.now() > deadline) throw new Error(what(last));
    await sleep(100);
  }
}

async function test(browser) {
  const pub = new URLSearchParams({ room: opts.room, token: opts.publishToken });
  await host.open(browser, `${opts.server}/demo/publish.html?${pub}`);
  await host.waitLive();
  const q = new URLSearchParams({ room: opts.room, servers: opts.failoverServer });
  await viewer.open(browser, `${opts.playServer}/watch.html?${q}`);
  await viewer.eval(WATCH_FRAMES);
  const before = await until(
    PLAYING_MS,
    async () => {
      const l = await look();
      return { ...l, ok: l.state === 'live' && l.height > 0 && l.frames > 30 && Date.now() - l.lastFrame < 500 };
    },
    (l) => `the viewer is not playing from node B within ${PLAYING_MS / 1000} s: ${JSON.stringify(l)}`,
  );
  if (before.server !== opts.playServer) throw new Error(`the viewer plays from ${before.server}, not node B (${opts.playServer})`);

  const killedAt = Date.now();
  process.kill(opts.pid, 'SIGKILL');
  const back = await until(
    Math.max(opts.maxFailoverMs, 5000) + 5000,
    async () => {
      const l = await look();
      const moved = l.failovers.at(-1);
      return { ...l, moved, ok: l.server === opts.failoverServer && moved && l.lastFrame > moved.t && l.height > 0 };
    },
    (l) => `the viewer is not playing from node C ${Math.max(opts.maxFailoverMs, 5000) / 1000 + 5} s after node B was killed: ${JSON.stringify(l)}`,
  );
  // The first frame presented from C: the frame clock's last entry when it was first seen
  // is at most 100 ms (one poll) after it.
  Object.assign(result, {
    failoverMs: back.lastFrame - killedAt,
    detectMs: back.moved.t - killedAt,
    lostWith: back.moved.error,
  });

  // And it goes on playing from C.
  const n = back.frames;
  await sleep(opts.seconds * 1000);
  const after = await look();
  result.framesAfter = after.frames - n;
  if (after.server !== opts.failoverServer || after.state !== 'live' || Date.now() - after.lastFrame > 1000 || after.frames - n < 10 * opts.seconds) {
    throw new Error(`the viewer did not keep playing from node C: ${JSON.stringify(after)} (${after.frames - n} frames in ${opts.seconds} s)`);
  }
  if (result.failoverMs > opts.maxFailoverMs) {
    throw new Error(`the viewer played again ${result.failoverMs} ms after node B was killed, over ${opts.maxFailoverMs} ms`);
  }
}

await run({
  name: 'failover',
  overallMs: 90_000,
  sides: [host, viewer],
  test,
  result: () => result,
});
