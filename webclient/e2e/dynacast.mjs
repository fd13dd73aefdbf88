// Dynacast in real Chromium: a host page publishes Chromium's fake camera with the SDK's
// Publisher (simulcast: q, h, f) and pauses the layers the server says nobody wants
// (media.layers); viewers play the real watch page.
//
//  1. One viewer, uncapped: it wants every layer, so all three are active; it is on f. The
//     host's upstream video bitrate (the growth of bytesSent, all layers) is measured.
//  2. The viewer caps itself at q (player.setLayer('q')): the host must show h and f
//     inactive in publisher.layerStats(), and its upstream bitrate must drop below
//     --max-ratio (0.5) of step 1's.
//  3. The viewer lifts its cap (setLayer('f')): the time from that call to the host's
//     sender having f active again (the Publisher's 'layers' event, after setParameters)
//     is measured and reported (issue 14 asks for 300 ms; asserted only below
//     --max-resume-ms, 3000, on a shared machine), and the viewer must then decode the
//     full-size picture (f's frame height at the host).
//
//   node e2e/dynacast.mjs --server http://127.0.0.1:8080 --room dyn --publish-token T [--seconds 4]
//     [--play-server URL]
//
// --play-server puts the viewer on another node of a cluster, which relays every layer
// of the room and tells the host's node which its viewers want (docs/CLUSTER.md).
//
// --seconds is each bitrate window. Prints one JSON line: allActiveKbps, cappedKbps (and
// per layer), resumeMs (and its part until the host was told, toldMs), fullSizeMs, the
// heights, and the host's layer log. Exit 0 pass, 1 fail, 2 bad usage.
import { Side, parseCli, run, sleep, until } from './lib.mjs';

const opts = parseCli({
  name: 'dynacast',
  usageLine:
    'usage: node e2e/dynacast.mjs --server URL --room ROOM --publish-token T [--seconds 4] [--max-ratio 0.5] [--max-resume-ms 3000] [--play-server URL]',
  seconds: '4',
  maxSeconds: 10,
  options: {
    'max-ratio': { type: 'string', default: '0.5' },
    'max-resume-ms': { type: 'string', default: '3000' },
    'play-server': { type: 'string' },
  },
  extra: (v, usage) => {
    if (!v['publish-token']) usage('--publish-token is required');
    const playServer = v['play-server'];
    if (playServer !== undefined && !URL.canParse(playServer)) usage(`--play-server ${playServer}: not a URL`);
    return {
      maxRatio: Number(v['max-ratio']),
      maxResumeMs: Number(v['max-resume-ms']),
      playServer: playServer ? new URL(playServer).href.replace(/\/+$/, '') : undefined,
    };
  },
});

const HOST_PATH = '/__e2e__/dynacasthost.html'; // answered by the browser context, never by Glint
const SETTLE_MS = 25_000; // the viewer on f with every layer active
const PAUSE_MS = 10_000; // h and f inactive after the cap
const FULL_MS = 15_000; // the viewer on f's picture after the cap is lifted

// The host page: the SDK's Publisher on the fake camera, simulcast; it logs every
// media.layers it is told and every change of the layers it encodes, with Date.now()
// (one clock for every page of this Chromium).
const HOST_PAGE = `<!doctype html><meta charset="utf-8"><video id="preview" muted playsinline></video>
<script type="module">
import { Publisher } from '/sdk/glint.js';
const q = new URLSearchParams(location.search);
const pub = new Publisher({ server: location.origin, room: q.get('room'), token: q.get('token'), source: 'camera', audio: false,
  video: { width: 1280, height: 720, frameRate: 30 }, simulcast: true, codec: 'vp8', preview: document.getElementById('preview') });
window.host = { state: 'connecting', told: [], layers: [], error: null };
pub.on('state', (s) => (window.host.state = s));
pub.on('error', (e) => (window.host.error = e.message));
pub.on('layers', ({ active }) => window.host.layers.push({ t: Date.now(), active }));
pub.interaction.on('envelope', (env) => env.type === 'media.layers' && window.host.told.push({ t: Date.now(), layers: env.payload.layers }));
window.layerStats = () => pub.layerStats();
// Why a layer is not sent: the uplink's estimate and each layer's quality limitation.
window.uplink = async () => {
  const out = { availableOutgoingKbps: null, limits: {} };
  (await pub.pc.getStats()).forEach((s) => {
    if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) out.availableOutgoingKbps = Math.round(s.availableOutgoingBitrate / 1000);
    if (s.type === 'outbound-rtp' && s.kind === 'video') out.limits[s.rid] = s.qualityLimitationReason;
  });
  return out;
};
window.senderActive = () => {
  const s = pub.pc?.getSenders().find((x) => x.track?.kind === 'video');
  return Object.fromEntries((s?.getParameters().encodings ?? []).map((e) => [e.rid, e.active !== false]));
};
await pub.start();
</script>`;

const host = new Side('host');
const viewer = new Side('viewer');
const result = {};

const layerStats = () => host.eval(() => window.layerStats());
const height = (side) => side.eval(() => document.getElementById('video')?.videoHeight ?? 0);
const byRid = (stats) => Object.fromEntries(stats.map((s) => [s.rid, s]));

// uplink measures the host's video bitrate over the window, all layers and per layer.
async function uplink(seconds) {
  const a = byRid(await layerStats());
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const b = byRid(await layerStats());
  const ms = Date.now() - t0;
  const per = {};
  let total = 0;
  for (const rid of Object.keys(b)) {
    const bits = ((b[rid].bytesSent ?? 0) - (a[rid]?.bytesSent ?? 0)) * 8;
    per[rid] = Math.round(bits / ms);
    total += bits;
  }
  return { kbps: Math.round(total / ms), per };
}

const summary = (stats) => stats.map((s) => `${s.rid} ${s.active ? 'on' : 'off'} ${s.width}x${s.height}`).join(', ');

async function test(browser) {
  const q = new URLSearchParams({ room: opts.room, token: opts.publishToken });
  await host.open(browser, `${opts.server}${HOST_PATH}?${q}`, (context) =>
    context.route(`${opts.server}${HOST_PATH}*`, (route) => route.fulfill({ contentType: 'text/html', body: HOST_PAGE })),
  );
  await host.page.waitForFunction(() => window.host?.state === 'live' || window.host?.error, null, { timeout: 20_000, polling: 100 });
  const hs = await host.eval(() => window.host);
  if (hs.state !== 'live') throw new Error(`host not live: ${hs.error ?? hs.state}`);

  // 1. Every layer wanted: one viewer, uncapped.
  await viewer.open(browser, `${opts.playServer ?? opts.server}/watch.html?${new URLSearchParams({ room: opts.room })}`);
  const settled = await until(
    SETTLE_MS,
    async () => {
      const st = byRid(await layerStats());
      const vh = await height(viewer);
      const ok = ['q', 'h', 'f'].every((r) => st[r]?.active && st[r].height > 0) && vh === st.f.height && st.q.height < vh;
      return { ok, st, vh, up: ok ? null : await host.eval(() => window.uplink()) };
    },
    (l) => `every layer active and the viewer on f within ${SETTLE_MS / 1000} s: host ${l?.st ? summary(Object.values(l.st)) : '-'}, viewer ${l?.vh}p, host uplink ${JSON.stringify(l?.up)}`,
  );
  await sleep(1000);
  const all = await uplink(opts.seconds);
  Object.assign(result, { allActiveKbps: all.kbps, allActivePerLayer: all.per, fullHeight: settled.st.f.height });

  // 2. The viewer capped at q: h and f paused at the host.
  const capAt = await viewer.eval(async () => {
    const t = Date.now();
    await window.glintPage.player.setLayer('q');
    return t;
  });
  const paused = await until(
    PAUSE_MS,
    async () => {
      const st = byRid(await layerStats());
      return { ok: st.q?.active && !st.h?.active && !st.f?.active, st };
    },
    (l) => `h and f still active ${PAUSE_MS / 1000} s after the only viewer capped itself at q: ${l?.st ? summary(Object.values(l.st)) : '-'}`,
  );
  result.pausedMs = Date.now() - capAt;
  await sleep(1500); // the last frames of h and f are out
  const capped = await uplink(opts.seconds);
  Object.assign(result, { cappedKbps: capped.kbps, cappedPerLayer: capped.per, pausedLayers: summary(Object.values(paused.st)) });
  if (!(capped.kbps < opts.maxRatio * all.kbps)) {
    throw new Error(`upstream ${capped.kbps} kbit/s with h and f paused, not below ${opts.maxRatio} × ${all.kbps} kbit/s with every layer`);
  }

  // 3. The cap lifted: f resumes at once, and the viewer gets the full-size picture.
  const liftAt = await viewer.eval(() => {
    const t = Date.now();
    void window.glintPage.player.setLayer('f');
    return t;
  });
  const resumed = await until(
    opts.maxResumeMs + 2000,
    async () => {
      const h = await host.eval(() => ({ layers: window.host.layers, told: window.host.told, sender: window.senderActive() }));
      const on = h.layers.find((e) => e.t >= liftAt && e.active.includes('f'));
      const told = h.told.find((e) => e.t >= liftAt && e.layers.includes('f'));
      return { ok: on && h.sender.f, on, told, sender: h.sender };
    },
    (l) => `f not active at the host ${(opts.maxResumeMs + 2000) / 1000} s after the viewer lifted its cap (told ${JSON.stringify(l?.told ?? null)}, sender ${JSON.stringify(l?.sender)})`,
  );
  Object.assign(result, { resumeMs: resumed.on.t - liftAt, toldMs: resumed.told ? resumed.told.t - liftAt : null });
  const full = await until(
    FULL_MS,
    async () => {
      const f = byRid(await layerStats()).f;
      const vh = await height(viewer);
      return { ok: f?.height > 0 && vh === f.height, vh, fh: f?.height };
    },
    (l) => `the viewer shows ${l?.vh}p ${FULL_MS / 1000} s after lifting its cap, f is ${l?.fh}p`,
  );
  Object.assign(result, { fullSizeMs: Date.now() - liftAt, fullSizeHeight: full.vh });
  if (result.resumeMs > opts.maxResumeMs) throw new Error(`f resumed ${result.resumeMs} ms after the viewer lifted its cap, over ${opts.maxResumeMs} ms`);
}

await run({
  name: 'dynacast',
  overallMs: 110_000,
  sides: [host, viewer],
  test,
  lastLook: async () => {
    result.hostLog = await host.eval(() => ({ told: window.host.told, layers: window.host.layers })).catch(() => null);
  },
  result: () => result,
});
