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
// overrides the browser path (default /usr/bin/chromium).
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const OVERALL_MS = 90_000; // cap for the whole run, start to exit
const LAUNCH_MS = 15_000;
const NAV_MS = 10_000;
const LIVE_MS = 20_000; // page load to window.glint.state === 'live'
const FIRST_FRAME_MS = 10_000; // viewer live to its first decoded frame
const RAMP_MS = 15_000; // both viewers decoding to the full one's width above the capped one's
const RAMP_STABLE_MS = 2_000; // ... and unchanged this long, so no layer switch is due in the window
const EVAL_MS = 5_000; // any one page.evaluate
const CLOSE_MS = 5_000;
const SAMPLE_MS = 500;
const STEP_MS = 1_000; // framesDecoded must grow over every step this long
const MAX_CONSOLE_LINES = 20;
const CAPPED_LAYER = 'q';
const CODECS = ['vp8', 'h264'];
// The watchdog leaves room for finish(): reading the pages' state (in parallel), closing Chromium.
const WATCHDOG_MS = OVERALL_MS - EVAL_MS - CLOSE_MS;

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];

const USAGE =
  'usage: node e2e/simulcast.mjs --server http://HOST:PORT --room ROOM ' +
  '[--publish-token T] [--play-token T] [--seconds 6] [--codec vp8|h264]';

function parseCli() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        server: { type: 'string' },
        room: { type: 'string' },
        'publish-token': { type: 'string' },
        'play-token': { type: 'string' },
        seconds: { type: 'string', default: '6' },
        codec: { type: 'string', default: 'vp8' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    usage(err.message);
  }
  if (values.help) usage();
  if (!values.server || !values.room) usage('--server and --room are required');
  if (!URL.canParse(values.server)) usage(`--server ${values.server}: not a URL`);
  const server = new URL(values.server).href.replace(/\/+$/, '');
  const seconds = Number(values.seconds);
  if (!(seconds >= 2 && seconds <= 30)) usage('--seconds must be between 2 and 30');
  const codec = values.codec.toLowerCase();
  if (!CODECS.includes(codec)) usage(`--codec must be one of ${CODECS.join(', ')}`);
  return {
    server,
    room: values.room,
    publishToken: values['publish-token'] ?? '',
    playToken: values['play-token'] ?? '',
    seconds,
    codec,
  };
}

function usage(problem) {
  if (problem) console.error(`simulcast: ${problem}`);
  console.error(USAGE);
  process.exit(problem ? 2 : 0);
}

// firstLine drops the call log and colours Playwright appends to its errors,
// and any token in a URL it quotes.
const firstLine = (err) =>
  err.message
    .split('\n')[0]
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, '')
    .replace(/([?&]token=)[^&\s"]+/g, '$1…');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function bounded(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// A Side is one demo page in its own browser context, with its console errors.
class Side {
  constructor(name) {
    this.name = name;
    this.page = null;
    this.loaded = false;
    this.console = [];
  }

  note(line) {
    this.console.push(line);
    if (this.console.length > MAX_CONSOLE_LINES) this.console.shift();
  }

  async open(browser, url) {
    const context = await browser.newContext();
    this.page = await context.newPage();
    this.page.on('console', (m) => m.type() === 'error' && this.note(`console.error: ${m.text()}`));
    this.page.on('pageerror', (e) => this.note(`uncaught: ${e.message}`));
    this.page.on('crash', () => this.note('page crashed'));
    const what = `${this.name}: GET ${url.split('?')[0]}`;
    const res = await this.page.goto(url, { timeout: NAV_MS, waitUntil: 'load' }).catch((err) => {
      throw new Error(`${what}: ${firstLine(err)}`);
    });
    if (!res || !res.ok()) {
      const body = res ? (await res.text().catch(() => '')).slice(0, 200) : '';
      throw new Error(`${what}: HTTP ${res?.status()} ${body}`.trim());
    }
    this.loaded = true;
  }

  eval(fn) {
    return bounded(this.page.evaluate(fn), EVAL_MS, `${this.name} page`);
  }

  glint() {
    if (!this.loaded) return Promise.resolve(null);
    return this.eval(() => (window.glint ? { state: window.glint.state, error: window.glint.error } : null))
      .catch((e) => ({ state: 'unknown', error: e.message }));
  }

  async waitLive() {
    await this.page
      .waitForFunction(() => ['live', 'failed'].includes(window.glint?.state), null, {
        timeout: LIVE_MS,
        polling: 100,
      })
      .catch(() => {});
    const g = await this.glint();
    if (g?.state === 'live') return;
    if (g?.state === 'failed') throw new Error(`${this.name} page failed: ${g.error}`);
    throw new Error(`${this.name} page not live within ${LIVE_MS / 1000} s (state ${g?.state ?? 'no window.glint'})`);
  }

  // stats is a viewer's window.glintStats() (demo/play.js).
  stats() {
    return this.eval(() => window.glintStats());
  }

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

async function waitFirstFrame(play) {
  const deadline = Date.now() + FIRST_FRAME_MS;
  let s;
  do {
    s = await play.stats();
    if (s.video.framesDecoded > 0) return;
    await sleep(250);
  } while (Date.now() < deadline);
  throw new Error(
    `${play.name} viewer live but no video frame decoded within ${FIRST_FRAME_MS / 1000} s ` +
      `(video packetsReceived ${s.video.packetsReceived}, audio packetsReceived ${s.audio.packetsReceived})`,
  );
}

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

async function sampleWindow(capped, full, seconds, samples) {
  const t0 = Date.now();
  for (;;) {
    const [c, f] = await Promise.all([capped.stats(), full.stats()]);
    samples.push({ t: Date.now() - t0, capped: c, full: f });
    const elapsed = Date.now() - t0;
    if (elapsed >= seconds * 1000) return;
    await sleep(Math.min(SAMPLE_MS, seconds * 1000 - elapsed));
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

async function main() {
  const opts = parseCli();
  const started = Date.now();
  const publish = new Side('publish');
  const capped = new Side(`play-${CAPPED_LAYER}`);
  const full = new Side('play-full');
  const ramp = [];
  const samples = [];
  const layers = { start: null, end: null };
  let browser = null;
  let finished = false;

  const finish = async (err) => {
    if (finished) return;
    finished = true;
    clearTimeout(watchdog);
    const [pub, cap, ful, end] = await Promise.all([publish.glint(), capped.glint(), full.glint(), publish.layers()]);
    layers.end = end;
    if (browser) {
      // Pages first, so their pagehide handlers DELETE the WHIP/WHEP sessions.
      const close = async () => {
        for (const side of [capped, full, publish]) await side.page?.close().catch(() => {});
        await browser.close();
      };
      await bounded(close(), CLOSE_MS, 'closing Chromium').catch(() => {});
    }
    const last = samples[samples.length - 1] ?? null;
    const result = {
      ok: !err,
      reason: err ? firstLine(err) : null,
      server: opts.server,
      room: opts.room,
      codec: opts.codec,
      seconds: opts.seconds,
      elapsedMs: Date.now() - started,
      widths: last ? { capped: last.capped.video.frameWidth, full: last.full.video.frameWidth } : null,
      publish: pub,
      play: { capped: cap, full: ful },
      layers,
      console: { publish: publish.console, capped: capped.console, full: full.console },
      ramp,
      samples,
    };
    if (err) {
      const lines = [`simulcast: FAIL: ${firstLine(err)}`];
      for (const [side, g] of [[publish, pub], [capped, cap], [full, ful]]) {
        if (!side.page) continue;
        lines.push(`  ${side.name} page: state=${g?.state ?? '-'} error=${g?.error ?? '-'}`);
        for (const c of side.console) lines.push(`  ${side.name} ${c}`);
      }
      if (publish.loaded) lines.push(`  publisher sends: ${layerSummary(layers.end)}`);
      console.error(lines.join('\n'));
    }
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(err ? 1 : 0));
  };

  const watchdog = setTimeout(() => finish(new Error(`overall timeout of ${WATCHDOG_MS / 1000} s`)), WATCHDOG_MS);

  const pageUrl = (file, token, extra = {}) => {
    const q = new URLSearchParams({ room: opts.room, ...extra });
    if (token) q.set('token', token);
    return `${opts.server}/demo/${file}?${q}`;
  };

  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      headless: true,
      timeout: LAUNCH_MS,
    });
    await publish.open(browser, pageUrl('publish.html', opts.publishToken, { simulcast: '1', codec: opts.codec }));
    await publish.waitLive();
    await Promise.all([
      capped.open(browser, pageUrl('play.html', opts.playToken, { layer: CAPPED_LAYER })),
      full.open(browser, pageUrl('play.html', opts.playToken)),
    ]);
    await Promise.all([capped.waitLive(), full.waitLive()]);
    await Promise.all([waitFirstFrame(capped), waitFirstFrame(full)]);
    await rampUp(capped, full, publish, ramp);
    layers.start = await publish.layers();
    await sampleWindow(capped, full, opts.seconds, samples);
    judge(samples);
    await finish(null);
  } catch (err) {
    await finish(err);
  }
}

main();
