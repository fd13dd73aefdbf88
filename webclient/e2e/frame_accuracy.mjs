// Events on their frame, measured independently of the SDK's own bookkeeping: a host page
// paints its clock (Date.now(), as 42 black-or-white blocks) into every frame of a canvas
// it publishes with the SDK, and fires --alerts alerts, each carrying the time it was fired.
// A viewer on the real watch page (webclient/pages/watch.html, WebRTC) reads the clock
// painted in the frame on screen whenever the SDK hands it an alert (onFrameEvent), so
// offset = painted time − fired time says how far from its frame the alert was shown. Both
// pages run in the same Chromium: one clock.
//
// --viewer fallback (on a server whose rooms take one WebRTC viewer): a first viewer takes
// the place, the measured one is refused (503 with the LL-HLS Link) and falls back to
// LL-HLS by itself, where its alerts are measured (hls.js, PROGRAM-DATE-TIME); then the
// first viewer leaves and the measured one must get back to WebRTC by itself. The host then
// sends H.264 and a tone, what LL-HLS carries.
//
// --stamp 0 sends the alerts without the host's own mediaTime (the server then stamps its
// live edge, as before issue 14), to compare.
//
// Passes when ≥ --min-on-frame (0.95) of the alerts are shown within ±--frame-ms (33) of
// their frame and ≥ --min-early (0.95) arrived before their frame (not late). Prints one
// JSON line with the offsets' p50/p95, the counts and the SDK's own {shown, late}.
import { Side, parseCli, run, sleep } from './lib.mjs';

const opts = parseCli({
  name: 'frame_accuracy',
  usageLine: 'usage: node e2e/frame_accuracy.mjs --server URL --room ROOM --host-token T (canPublish and roomAdmin) [--alerts 20] [--frame-ms 33]',
  seconds: '10',
  options: {
    'host-token': { type: 'string' },
    alerts: { type: 'string', default: '20' },
    'frame-ms': { type: 'string', default: '33' },
    'min-on-frame': { type: 'string', default: '0.95' },
    'min-early': { type: 'string', default: '0.95' },
    stamp: { type: 'string', default: '1' },
    viewer: { type: 'string', default: 'webrtc' },
  },
  extra: (v, usage) => {
    const n = Number(v.alerts);
    if (!(n >= 1 && n <= 200)) usage('--alerts must be 1..200');
    if (!v['host-token']) usage('--host-token is required');
    if (!['webrtc', 'fallback'].includes(v.viewer)) usage('--viewer must be webrtc or fallback');
    return { hostToken: v['host-token'], stamp: v.stamp, viewer: v.viewer, alerts: n, frameMs: Number(v['frame-ms']), minOnFrame: Number(v['min-on-frame']), minEarly: Number(v['min-early']) };
  },
});

const HOST_PATH = '/__e2e__/pixelhost.html'; // answered by the browser context, never by Glint
const BITS = 42;
const BLOCK = 14;

// The host page: a 640×360 canvas repainted every 10 ms with the time in blocks (most
// significant bit left), published with the SDK; window.fire() sends one alert.
const HOST_PAGE = `<!doctype html><meta charset="utf-8"><canvas id="c" width="640" height="360"></canvas>
<script type="module">
import { Publisher } from '/sdk/glint.js';
const q = new URLSearchParams(location.search);
const c = document.getElementById('c');
const g = c.getContext('2d');
function paint() {
  const t = Date.now();
  g.fillStyle = '#808080'; g.fillRect(0, 0, 640, 360);
  for (let i = 0; i < ${BITS}; i++) {
    const bit = Math.floor(t / 2 ** (${BITS} - 1 - i)) % 2;
    g.fillStyle = bit ? '#fff' : '#000';
    g.fillRect(12 + i * ${BLOCK}, 150, ${BLOCK}, ${BLOCK * 2});
  }
}
paint();
setInterval(paint, 10); // the painted time is at most 10 ms older than the frame's capture
const stream = c.captureStream(30);
if (q.get('codec') === 'h264') {
  // LL-HLS carries H.264 and audio: a quiet tone.
  const ac = new AudioContext();
  const osc = ac.createOscillator();
  const gain = ac.createGain();
  gain.gain.value = 0.05;
  const dst = ac.createMediaStreamDestination();
  osc.connect(gain).connect(dst);
  osc.start();
  stream.addTrack(dst.stream.getAudioTracks()[0]);
}
const pub = new Publisher({ server: location.origin, room: q.get('room'), token: q.get('token'), source: stream, codec: q.get('codec') || 'vp8' });
window.host = { state: 'connecting', fired: [] };
pub.on('state', (s) => (window.host.state = s));
await pub.start();
window.fire = async () => {
  const t = Date.now();
  window.host.fired.push(t);
  if (q.get('stamp') === '0') await pub.interaction.request('alert.show', { kind: 'clock', text: String(t), durationMs: 1000 });
  else await pub.interaction.alert('clock', String(t), 1000);
};
</script>`;

// readClock, run in the viewer page inside onFrameEvent: the time painted in the frame on screen.
function installProbe({ bits, block }) {
  const video = document.getElementById('video');
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d', { willReadFrequently: true });
  window.probe = [];
  window.glintPage.player.onFrameEvent(({ envelope, late, frameTime }) => {
    if (envelope.type !== 'alert' || envelope.payload.kind !== 'clock') return;
    const w = video.videoWidth;
    const h = video.videoHeight;
    canvas.width = w;
    canvas.height = h;
    g.drawImage(video, 0, 0, w, h);
    const sx = w / 640;
    const sy = h / 360;
    let t = 0;
    for (let i = 0; i < bits; i++) {
      const x = Math.round((12 + i * block + block / 2) * sx);
      const y = Math.round((150 + block) * sy);
      const [r, gg, b] = g.getImageData(x, y, 1, 1).data;
      t = t * 2 + ((r + gg + b) / 3 > 128 ? 1 : 0);
    }
    window.probe.push({ fired: Number(envelope.payload.text), painted: t, late, mediaTime: envelope.mediaTime, frameTime, rate: video.playbackRate, at: video.currentTime });
  });
}

const host = new Side('host');
const first = new Side('first viewer');
const viewer = new Side('viewer');
const result = {};

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : null;
};

async function test(browser) {
  const fallback = opts.viewer === 'fallback';
  const q = new URLSearchParams({ room: opts.room, token: opts.hostToken, stamp: opts.stamp, codec: fallback ? 'h264' : 'vp8' });
  await host.open(browser, `${opts.server}${HOST_PATH}?${q}`, (context) =>
    context.route(`${opts.server}${HOST_PATH}*`, (route) => route.fulfill({ contentType: 'text/html', body: HOST_PAGE })),
  );
  await host.page.waitForFunction(() => window.host?.state === 'live', null, { timeout: 20_000, polling: 100 });
  // Playing: the SDK's own count of frames decoded in the mode (per connection) past 30.
  // Polled from here: waitForFunction took an async predicate's promise for a truthy answer
  // at once, and the alerts went out before the LL-HLS player had shown a frame (the first
  // ones then counted as off their frame).
  const playing = async (side, mode) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await side.eval(
        async (m) => window.glintPage?.state === 'live' && window.glintPage.player.mode === m && (await window.glintPage.player.stats()).framesDecoded > 30,
        mode,
      );
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`not playing over ${mode} within 30 s`);
      await sleep(200);
    }
  };
  if (fallback) {
    await first.open(browser, `${opts.server}/watch.html?${new URLSearchParams({ room: opts.room, fallback: 'never' })}`);
    await playing(first, 'webrtc');
  }
  const t0 = Date.now();
  await viewer.open(browser, `${opts.server}/watch.html?${new URLSearchParams({ room: opts.room, webrtcRetry: '3000' })}`);
  await playing(viewer, fallback ? 'hls' : 'webrtc');
  if (fallback) result.fallbackPlayingMs = Date.now() - t0;
  await viewer.eval(installProbe, { bits: BITS, block: BLOCK });
  await sleep(1000); // the media clock settles
  for (let i = 0; i < opts.alerts; i++) {
    await host.eval(() => window.fire());
    await sleep(250 + Math.random() * 100);
  }
  await viewer.page.waitForFunction((n) => window.probe.length >= n, opts.alerts, { timeout: 10_000, polling: 100 }).catch(() => {});
  const probe = await viewer.eval(() => window.probe);
  const sdk = await viewer.eval(async () => ({ ...window.glintPage.player.frameStats, hlsResyncs: (await window.glintPage.player.stats()).hlsResyncs }));
  const offsets = probe.map((p) => p.painted - p.fired);
  const onFrame = offsets.filter((o) => Math.abs(o) <= opts.frameMs).length;
  const early = probe.filter((p) => !p.late).length;
  Object.assign(result, {
    alerts: opts.alerts,
    seen: probe.length,
    onFrame,
    early,
    p50: pct(offsets, 50),
    p95abs: pct(offsets.map(Math.abs), 95),
    // How far the SDK's idea of the frame on screen (media.clock) is from the painted one.
    clockMinusPainted: pct(probe.filter((p) => p.frameTime !== undefined).map((p) => Math.round(p.frameTime - p.painted)), 50),
    stampMinusFired: { p50: pct(probe.map((p) => p.mediaTime - p.fired), 50), min: Math.min(...probe.map((p) => p.mediaTime - p.fired)) },
    offsets,
    // Per alert: the SDK's frame time minus the painted one, and the element's playback rate.
    clockOffsets: probe.map((p) => (p.frameTime === undefined ? null : Math.round(p.frameTime - p.painted))),
    rates: probe.map((p) => p.rate),
    sdk,
  });
  if (fallback) {
    // The place frees: the viewer must come back to WebRTC by itself.
    const t1 = Date.now();
    await first.page.close();
    await playing(viewer, 'webrtc');
    result.backToWebRTCMs = Date.now() - t1;
  }
  const fired = await host.eval(() => window.host.fired);
  const got = new Set(probe.map((p) => p.fired));
  result.missing = fired.map((t, i) => (got.has(t) ? -1 : i)).filter((i) => i >= 0);
  if (probe.length < opts.alerts) throw new Error(`the viewer was handed ${probe.length} of ${opts.alerts} alerts`);
  if (onFrame < opts.minOnFrame * opts.alerts) throw new Error(`${onFrame}/${opts.alerts} alerts shown within ±${opts.frameMs} ms of their frame (offsets ${offsets.join(' ')})`);
  if (early < opts.minEarly * opts.alerts) throw new Error(`${early}/${opts.alerts} alerts arrived before their frame`);
}

await run({ name: 'frame_accuracy', overallMs: 110_000, sides: [host, first, viewer], test, result: () => result });
