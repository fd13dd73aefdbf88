#!/usr/bin/env node
// End-to-end check of simulcast through a running Glint server, in the system's
// headless Chromium (never a downloaded one): page 1 publishes Chromium's fake
// camera with demo/publish.html?simulcast=1 (three layers: q, h, f at 1/4, 1/2
// and full resolution), then two viewers, each in its own browser context,
// play the room with demo/play.html: one capped with ?layer=q, one without
// (full). Chromium starts its simulcast layers as its bandwidth estimate grows,
// so the check first waits (up to RAMP_MS) until the full viewer's frame width
// is above the capped viewer's and has held still for RAMP_STABLE_MS. Then it
// passes when, over the whole --seconds window, both viewers have a frame size
// and keep decoding frames, and at the end of it the capped viewer's frameWidth
// is strictly less than the full viewer's.
//
//   node e2e/simulcast.mjs --server http://127.0.0.1:8080 --room e2e \
//     [--publish-token T] [--play-token T] [--seconds 6] [--codec vp8|h264]
//
// Prints one JSON line (result, both widths, the publisher's outbound stats per
// rid, samples) on stdout. Exit 0: pass; 1: fail, with the reason, the pages'
// window.glint.error and console errors on stderr; 2: bad usage. CHROMIUM
// overrides the browser path (default /usr/bin/chromium). The command line,
// Chromium, the pages and the run's ending live in lib.mjs.
import { SAMPLE_MS, STEP_MS, Side, pageUrl, parseCli, run, sampleWindow, sleep, waitFirstFrame } from './lib.mjs';

const OVERALL_MS = 90_000; // cap for the whole run, start to exit
const RAMP_MS = 15_000; // both viewers decoding to the full one's width above the capped one's
const RAMP_STABLE_MS = 2_000; // ... and unchanged this long, so no layer switch is due in the window
const CAPPED_LAYER = 'q';
const CODECS = ['vp8', 'h264'];

// A Publisher is the publish page's Side, which can also report its layers.
class Publisher extends Side {
  // layers is the publisher's window.glintPublishStats() (demo/publish.js), or
  // null when the page cannot say.
  layers() {
    if (!this.loaded) return Promise.resolve(null);
    return this.eval(() => window.glintPublishStats?.() ?? null).catch(() => null);
  }
}

// layerSummary renders the publisher's layers for an error message: "q 320x180 12345 B, …".
const layerSummary = (layers) =>
  layers?.length
    ? layers.map((l) => `${l.rid ?? '-'} ${l.frameWidth}x${l.frameHeight} ${l.bytesSent} B`).join(', ')
    : 'no outbound video stats';

// rampUp returns once the full viewer's frameWidth is above the capped one's
// and has not changed for RAMP_STABLE_MS, or at RAMP_MS if it is above by then;
// otherwise it throws. Every poll's widths go to ramp.
async function rampUp(capped, full, publish, ramp) {
  const t0 = Date.now();
  let aheadSince = null; // when the full viewer's current width, above the capped one's, first showed
  let lastFull = -1;
  for (;;) {
    const [c, f] = await Promise.all([capped.stats(), full.stats()]);
    const now = Date.now();
    const [cw, fw] = [c.video.frameWidth, f.video.frameWidth];
    ramp.push({ t: now - t0, capped: cw, full: fw });
    const ahead = cw > 0 && fw > cw;
    if (!ahead) aheadSince = null;
    else if (aheadSince === null || fw !== lastFull) aheadSince = now;
    lastFull = fw;
    if (ahead && now - aheadSince >= RAMP_STABLE_MS) return;
    if (now - t0 >= RAMP_MS) {
      if (ahead) return;
      throw new Error(
        `full viewer's frameWidth ${fw} not above the capped (layer=${CAPPED_LAYER}) viewer's ${cw} ` +
          `within ${RAMP_MS / 1000} s (publisher sends: ${layerSummary(await publish.layers())})`,
      );
    }
    await sleep(SAMPLE_MS);
  }
}

// judge throws unless every sample shows a frame size for both viewers,
// framesDecoded grew over every STEP_MS of the window for both, and in the last
// sample the capped viewer's frameWidth is below the full viewer's.
function judge(samples) {
  if (samples.length < 3) throw new Error(`only ${samples.length} samples taken`);
  for (const who of ['capped', 'full']) {
    for (const s of samples) {
      const v = s[who].video;
      if (!(v.frameWidth > 0 && v.frameHeight > 0)) {
        throw new Error(`${who} viewer: no video frame size at t=${s.t} ms (${v.frameWidth}x${v.frameHeight})`);
      }
    }
    let steps = 0;
    for (let i = 1, j = -1; i < samples.length; i++) {
      while (j + 1 < i && samples[j + 1].t <= samples[i].t - STEP_MS) j++;
      if (j < 0) continue;
      const [a, b] = [samples[j], samples[i]];
      if (!(b[who].video.framesDecoded > a[who].video.framesDecoded)) {
        throw new Error(
          `${who} viewer: video stalled: framesDecoded ${b[who].video.framesDecoded} at t=${b.t} ms, ` +
            `${a[who].video.framesDecoded} at t=${a.t} ms`,
        );
      }
      steps++;
    }
    if (steps < 2) throw new Error(`only ${steps} one-second steps checked; sample window too short`);
  }
  const last = samples[samples.length - 1];
  const [cw, fw] = [last.capped.video.frameWidth, last.full.video.frameWidth];
  if (!(cw < fw)) {
    throw new Error(
      `capped (layer=${CAPPED_LAYER}) viewer's frameWidth ${cw} not below the full viewer's ${fw} at the end`,
    );
  }
}

const opts = parseCli({
  name: 'simulcast',
  usageLine:
    'usage: node e2e/simulcast.mjs --server http://HOST:PORT --room ROOM ' +
    '[--publish-token T] [--play-token T] [--seconds 6] [--codec vp8|h264]',
  seconds: '6',
  options: { codec: { type: 'string', default: 'vp8' } },
  extra(values, usage) {
    const codec = values.codec.toLowerCase();
    if (!CODECS.includes(codec)) usage(`--codec must be one of ${CODECS.join(', ')}`);
    return { codec };
  },
});
const publish = new Publisher('publish');
const capped = new Side(`play-${CAPPED_LAYER}`);
const full = new Side('play-full');
const ramp = [];
const samples = [];
const layers = { start: null, end: null };

run({
  name: 'simulcast',
  overallMs: OVERALL_MS,
  sides: [publish, capped, full],
  async test(browser) {
    await publish.open(
      browser,
      pageUrl(opts, 'publish.html', opts.publishToken, { simulcast: '1', codec: opts.codec }),
    );
    await publish.waitLive();
    await Promise.all([
      capped.open(browser, pageUrl(opts, 'play.html', opts.playToken, { layer: CAPPED_LAYER })),
      full.open(browser, pageUrl(opts, 'play.html', opts.playToken)),
    ]);
    await Promise.all([capped.waitLive(), full.waitLive()]);
    await Promise.all([waitFirstFrame(capped, `${capped.name} viewer`), waitFirstFrame(full, `${full.name} viewer`)]);
    await rampUp(capped, full, publish, ramp);
    layers.start = await publish.layers();
    await sampleWindow(opts.seconds, samples, async () => {
      const [c, f] = await Promise.all([capped.stats(), full.stats()]);
      return { capped: c, full: f };
    });
    judge(samples);
  },
  // Read along with the pages' state, before Chromium closes.
  async lastLook() {
    layers.end = await publish.layers();
  },
  result([pub, cap, ful], elapsedMs) {
    const last = samples[samples.length - 1] ?? null;
    return {
      server: opts.server,
      room: opts.room,
      codec: opts.codec,
      seconds: opts.seconds,
      elapsedMs,
      widths: last ? { capped: last.capped.video.frameWidth, full: last.full.video.frameWidth } : null,
      publish: pub,
      play: { capped: cap, full: ful },
      layers,
      console: { publish: publish.console, capped: capped.console, full: full.console },
      ramp,
      samples,
    };
  },
  failNotes: () => (publish.loaded ? [`  publisher sends: ${layerSummary(layers.end)}`] : []),
});
