// A cluster node killed under its clients, in real Chromium: a host page publishes the fake
// camera to --server (demo/publish.html, loaded from that node), a viewer plays the room
// from --play-server's watch page; the process --kill-pid (one of those nodes) is killed
// with SIGKILL, and the one whose node it was must go on from the next node of its list:
//
//  - the viewer's node (--failover-server C, the watch page's servers=): the viewer must
//    play again from C, which relays the room from the host's node. With --discover the
//    page is given no other node: the player must have learned them from B's GET /nodes,
//    and may go on from any node --failover-server lists (comma-separated; learned nodes
//    are tried in a random order);
//  - the host's node (--host-failover C, the publish page's servers=): the host must
//    publish again to C, which becomes the room's origin, and the viewer, on a third node
//    whose relay pulled the room from the dead node, must play again (the relay reattaches).
//    With --studio the host is the studio page (studio.html), whose room controls (a
//    WebSocket) must also go on from C.
//
//   node e2e/failover.mjs --server A --room R --publish-token T --play-server B \
//     (--failover-server C [--discover] | --host-failover C [--studio]) --kill-pid PID [--seconds 3] [--max-failover-ms 10000]
//
// failoverMs, from the kill to the viewer's first frame after it, is reported (issue 12
// asks for 5 s) and asserted only below --max-failover-ms on a shared machine; detectMs is
// its part until the side on the killed node gave it up. --seconds is how long the viewer
// must then go on playing. Prints one JSON line; exit 0 pass, 1 fail, 2 bad usage.
import { Side, parseCli, run, sleep, until } from './lib.mjs';

const url = (v, name, usage) => {
  if (!v || !URL.canParse(v)) usage(`--${name} is required, a URL`);
  return new URL(v).href.replace(/\/+$/, '');
};

const opts = parseCli({
  name: 'failover',
  usageLine:
    'usage: node e2e/failover.mjs --server A --room ROOM --publish-token T --play-server B (--failover-server C [--discover] | --host-failover C [--studio]) --kill-pid PID [--seconds 3] [--max-failover-ms 10000]',
  seconds: '3',
  maxSeconds: 10,
  options: {
    'play-server': { type: 'string' },
    'failover-server': { type: 'string' },
    'host-failover': { type: 'string' },
    'kill-pid': { type: 'string' },
    'max-failover-ms': { type: 'string', default: '10000' },
    discover: { type: 'boolean', default: false },
    studio: { type: 'boolean', default: false },
  },
  extra: (v, usage) => {
    const pid = Number(v['kill-pid']);
    if (!Number.isInteger(pid) || pid <= 1) usage('--kill-pid is required: the process id of node B');
    if (!v['failover-server'] === !v['host-failover']) usage('one of --failover-server (the viewer fails over) and --host-failover (the host does) is required');
    return {
      playServer: url(v['play-server'], 'play-server', usage),
      failoverServer:
        v['failover-server'] &&
        v['failover-server']
          .split(',')
          .map((u) => url(u, 'failover-server', usage))
          .join(','),
      hostFailover: v['host-failover'] && url(v['host-failover'], 'host-failover', usage),
      pid,
      discover: v.discover && (v['failover-server'] ? true : usage('--discover goes with --failover-server')),
      studio: v.studio && (v['host-failover'] ? true : usage('--studio goes with --host-failover')),
      maxFailoverMs: Number(v['max-failover-ms']),
    };
  },
});

const PLAYING_MS = 25_000; // the viewer playing from B, the relay included

const host = new Side('host');
const viewer = new Side('viewer');
const result = {};

// The viewer page's own record of presented frames (requestVideoFrameCallback), with
// Date.now(): one clock with this script's. resumed lists the first frame after every gap
// of over 300 ms ({t, n}: when, and the frame count then).
const WATCH_FRAMES = () => {
  window.frames_ = { n: 0, last: 0, resumed: [] };
  const video = document.getElementById('video');
  const tick = () => {
    const f = window.frames_;
    const now = Date.now();
    if (f.last && now - f.last > 300) f.resumed.push({ t: now, n: f.n });
    f.n++;
    f.last = now;
    video.requestVideoFrameCallback(tick);
  };
  video.requestVideoFrameCallback(tick);
};

const look = async () => ({
  ...(await viewer.eval(() => ({
    state: window.glintPage.state,
    server: window.glintPage.player.server,
    frames: window.frames_.n,
    lastFrame: window.frames_.last,
    resumed: window.frames_.resumed,
    failovers: window.glintPage.failovers ?? [],
    height: document.getElementById('video').videoHeight,
  }))),
  host: await host.eval(() => ({
    state: window.glint.state,
    server: window.glint.server ?? window.glint.publisher?.server,
    failovers: window.glint.failovers ?? [],
    socketServer: window.glint.socketServer,
  })),
});

async function test(browser) {
  const pub = new URLSearchParams({ room: opts.room, token: opts.publishToken });
  if (opts.hostFailover) pub.set('servers', opts.hostFailover);
  if (opts.studio) {
    await host.open(browser, `${opts.server}/studio.html?${pub}`);
    await host.page.waitForFunction(() => window.glintPage.connected === true, null, { timeout: 20_000, polling: 100 });
    await host.page.click('#camera', { timeout: 5000 });
  } else {
    await host.open(browser, `${opts.server}/demo/publish.html?${pub}`);
  }
  await host.waitLive();
  const q = new URLSearchParams({ room: opts.room });
  if (opts.failoverServer && !opts.discover) q.set('servers', opts.failoverServer);
  await viewer.open(browser, `${opts.playServer}/watch.html?${q}`);
  await viewer.eval(WATCH_FRAMES);
  const before = await until(
    PLAYING_MS,
    async () => {
      const l = await look();
      return { ...l, ok: l.state === 'live' && l.height > 0 && l.frames > 30 && Date.now() - l.lastFrame < 500 };
    },
    (l) => `the viewer is not playing from ${opts.playServer} within ${PLAYING_MS / 1000} s: ${JSON.stringify(l)}`,
    100,
  );
  if (before.server !== opts.playServer) throw new Error(`the viewer plays from ${before.server}, not ${opts.playServer}`);

  // The side on the killed node, and where it must go on from.
  const [side, to] = opts.failoverServer ? ['viewer', opts.failoverServer] : ['host', opts.hostFailover];
  const allowed = opts.discover ? to.split(',') : [to.split(',')[0]];
  const killedAt = Date.now();
  process.kill(opts.pid, 'SIGKILL');
  const waitMs = Math.max(opts.maxFailoverMs, 5000) + 5000;
  const back = await until(
    waitMs,
    async () => {
      const l = await look();
      const moved = (side === 'viewer' ? l.failovers : l.host.failovers).at(-1);
      const server = side === 'viewer' ? l.server : l.host.server;
      // Playing again: frames flowing since the last gap after the move. The element
      // presents a frame when the player swaps in the new connection's stream, before
      // its media comes: that one alone is not playing again (it made failover look
      // 1.5 s shorter than it was, and the next 3 s hold the wait for the real picture).
      const r = l.resumed.filter((e) => moved && e.t > moved.t).at(-1);
      const resumed = r?.t;
      return { ...l, moved, resumed, ok: allowed.includes(server) && !!r && l.frames - r.n >= 5 && Date.now() - l.lastFrame < 500 };
    },
    (l) => `the viewer is not playing again, the ${side} from ${to}, ${waitMs / 1000} s after the ${side}'s node was killed: ${JSON.stringify(l)}`,
    100,
  );
  Object.assign(result, {
    failedOver: side,
    to: side === 'viewer' ? back.server : back.host.server,
    failoverMs: back.resumed - killedAt,
    detectMs: back.moved.t - killedAt,
    lostWith: back.moved.error,
  });

  // The studio's room controls went on from the new node too: a request there is answered.
  if (opts.studio) {
    const controls = await until(
      10_000,
      async () => {
        const r = await host.eval(async () => {
          try {
            await window.glintPage.interaction.ping();
            return { ok: true, server: window.glintPage.socketServer };
          } catch (err) {
            return { ok: false, server: window.glintPage.socketServer, error: String(err) };
          }
        });
        return { ...r, ok: r.ok && r.server === to };
      },
      (l) => `the studio's room controls are not answered from ${to} 10 s after its broadcast failed over: ${JSON.stringify(l)}`,
      200,
    );
    result.controlsOn = controls.server;
  }

  // And it goes on playing.
  const n = back.frames;
  await sleep(opts.seconds * 1000);
  const after = await look();
  result.framesAfter = after.frames - n;
  if (after.state !== 'live' || Date.now() - after.lastFrame > 1000 || after.frames - n < 10 * opts.seconds) {
    throw new Error(`the viewer did not keep playing: ${JSON.stringify(after)} (${after.frames - n} frames in ${opts.seconds} s)`);
  }
  if (result.failoverMs > opts.maxFailoverMs) {
    throw new Error(`the viewer played again ${result.failoverMs} ms after the ${side}'s node was killed, over ${opts.maxFailoverMs} ms`);
  }
}

await run({
  name: 'failover',
  overallMs: 90_000,
  sides: [host, viewer],
  test,
  result: () => result,
});
