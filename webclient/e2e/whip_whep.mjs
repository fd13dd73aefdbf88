#!/usr/bin/env node
// End-to-end check of WHIP ingest and WHEP playback through a running Glint
// server, in the system's headless Chromium (never a downloaded one): page 1
// publishes Chromium's fake camera and microphone with demo/publish.html,
// page 2, in its own browser context, plays the room with demo/play.html, and
// the check passes when the viewer keeps decoding video frames and receiving
// audio packets for the whole --seconds window.
//
//   node e2e/whip_whep.mjs --server http://127.0.0.1:8080 --room e2e \
//     [--publish-token T] [--play-token T] [--seconds 5]
//
// Prints one JSON line (result and samples) on stdout. Exit 0: pass; 1: fail,
// with the reason, the pages' window.glint.error and console errors on stderr;
// 2: bad usage. CHROMIUM overrides the browser path (default /usr/bin/chromium).
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const OVERALL_MS = 60_000; // cap for the whole run, start to exit
const LAUNCH_MS = 15_000;
const NAV_MS = 10_000;
const LIVE_MS = 20_000; // page load to window.glint.state === 'live'
const FIRST_FRAME_MS = 10_000; // viewer live to its first decoded frame
const EVAL_MS = 5_000; // any one page.evaluate
const CLOSE_MS = 5_000;
const SAMPLE_MS = 500;
const STEP_MS = 1_000; // framesDecoded must grow over every step this long
const MAX_CONSOLE_LINES = 20;
// The watchdog leaves room for finish(): reading both pages' state (in parallel), closing Chromium.
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
  'usage: node e2e/whip_whep.mjs --server http://HOST:PORT --room ROOM ' +
  '[--publish-token T] [--play-token T] [--seconds 5]';

function parseCli() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        server: { type: 'string' },
        room: { type: 'string' },
        'publish-token': { type: 'string' },
        'play-token': { type: 'string' },
        seconds: { type: 'string', default: '5' },
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
  return {
    server,
    room: values.room,
    publishToken: values['publish-token'] ?? '',
    playToken: values['play-token'] ?? '',
    seconds,
  };
}

function usage(problem) {
  if (problem) console.error(`whip_whep: ${problem}`);
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
}

async function stats(play, t0) {
  const s = await play.eval(() => window.glintStats());
  return { t: Date.now() - t0, video: s.video, audio: s.audio };
}

async function waitFirstFrame(play) {
  const deadline = Date.now() + FIRST_FRAME_MS;
  let s;
  do {
    s = await play.eval(() => window.glintStats());
    if (s.video.framesDecoded > 0) return;
    await sleep(250);
  } while (Date.now() < deadline);
  throw new Error(
    `viewer live but no video frame decoded within ${FIRST_FRAME_MS / 1000} s ` +
      `(video packetsReceived ${s.video.packetsReceived}, audio packetsReceived ${s.audio.packetsReceived})`,
  );
}

async function sampleWindow(play, seconds, samples) {
  const t0 = Date.now();
  for (;;) {
    samples.push(await stats(play, t0));
    const elapsed = Date.now() - t0;
    if (elapsed >= seconds * 1000) return;
    await sleep(Math.min(SAMPLE_MS, seconds * 1000 - elapsed));
  }
}

// judge throws unless every sample shows a frame size, framesDecoded grew over
// every STEP_MS of the window, and audio packets kept arriving.
function judge(samples) {
  if (samples.length < 3) throw new Error(`only ${samples.length} samples taken`);
  for (const s of samples) {
    if (!(s.video.frameWidth > 0 && s.video.frameHeight > 0)) {
      throw new Error(`no video frame size at t=${s.t} ms (${s.video.frameWidth}x${s.video.frameHeight})`);
    }
  }
  let steps = 0;
  for (let i = 1, j = -1; i < samples.length; i++) {
    while (j + 1 < i && samples[j + 1].t <= samples[i].t - STEP_MS) j++;
    if (j < 0) continue;
    const [a, b] = [samples[j], samples[i]];
    if (!(b.video.framesDecoded > a.video.framesDecoded)) {
      throw new Error(
        `video stalled: framesDecoded ${b.video.framesDecoded} at t=${b.t} ms, ` +
          `${a.video.framesDecoded} at t=${a.t} ms`,
      );
    }
    steps++;
  }
  if (steps < 2) throw new Error(`only ${steps} one-second steps checked; sample window too short`);
  const [first, last] = [samples[0], samples[samples.length - 1]];
  if (!(last.audio.packetsReceived > first.audio.packetsReceived)) {
    throw new Error(`audio stalled: packetsReceived ${first.audio.packetsReceived} → ${last.audio.packetsReceived}`);
  }
}

async function main() {
  const opts = parseCli();
  const started = Date.now();
  const publish = new Side('publish');
  const play = new Side('play');
  const samples = [];
  let browser = null;
  let finished = false;

  const finish = async (err) => {
    if (finished) return;
    finished = true;
    clearTimeout(watchdog);
    const [pub, ply] = await Promise.all([publish.glint(), play.glint()]);
    if (browser) {
      // Pages first, so their pagehide handlers DELETE the WHIP/WHEP sessions.
      const close = async () => {
        for (const side of [play, publish]) await side.page?.close().catch(() => {});
        await browser.close();
      };
      await bounded(close(), CLOSE_MS, 'closing Chromium').catch(() => {});
    }
    const result = {
      ok: !err,
      reason: err ? firstLine(err) : null,
      server: opts.server,
      room: opts.room,
      seconds: opts.seconds,
      elapsedMs: Date.now() - started,
      publish: pub,
      play: ply,
      console: { publish: publish.console, play: play.console },
      samples,
    };
    if (err) {
      const lines = [`whip_whep: FAIL: ${firstLine(err)}`];
      for (const [side, g] of [[publish, pub], [play, ply]]) {
        if (!side.page) continue;
        lines.push(`  ${side.name} page: state=${g?.state ?? '-'} error=${g?.error ?? '-'}`);
        for (const c of side.console) lines.push(`  ${side.name} ${c}`);
      }
      console.error(lines.join('\n'));
    }
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(err ? 1 : 0));
  };

  const watchdog = setTimeout(() => finish(new Error(`overall timeout of ${WATCHDOG_MS / 1000} s`)), WATCHDOG_MS);

  const pageUrl = (file, token) => {
    const q = new URLSearchParams({ room: opts.room });
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
    await publish.open(browser, pageUrl('publish.html', opts.publishToken));
    await publish.waitLive();
    await play.open(browser, pageUrl('play.html', opts.playToken));
    await play.waitLive();
    await waitFirstFrame(play);
    await sampleWindow(play, opts.seconds, samples);
    judge(samples);
    await finish(null);
  } catch (err) {
    await finish(err);
  }
}

main();
