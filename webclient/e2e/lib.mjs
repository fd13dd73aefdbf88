// Helpers shared by the end-to-end scripts in this directory (whip_whep.mjs,
// simulcast.mjs): the command line every script takes, Chromium's launch, one
// demo page per browser context with its console errors, and run(), which
// owns the watchdog, the cleanup and the JSON line on stdout. What each check
// does and when it passes stays in its own script.
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const LAUNCH_MS = 15_000;
const NAV_MS = 10_000;
const LIVE_MS = 20_000; // page load to window.glint.state === 'live'
const FIRST_FRAME_MS = 10_000; // viewer live to its first decoded frame
const EVAL_MS = 5_000; // any one page.evaluate
const CLOSE_MS = 5_000;
export const SAMPLE_MS = 500;
export const STEP_MS = 1_000; // framesDecoded must grow over every step this long
const MAX_CONSOLE_LINES = 20;

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

// parseCli reads the options every script takes (--server, --room,
// --publish-token, --play-token, --seconds, -h) plus the script's own
// `options`, whose values `extra(values, usage)` checks and returns as further
// fields of the result. --seconds must lie in 2..maxSeconds (default 30). Bad usage prints `name: problem` and `usageLine` on
// stderr and exits 2; -h prints `usageLine` and exits 0.
export function parseCli({ name, usageLine, seconds: defaultSeconds, maxSeconds = 30, options = {}, extra = () => ({}) }) {
  const usage = (problem) => {
    if (problem) console.error(`${name}: ${problem}`);
    console.error(usageLine);
    process.exit(problem ? 2 : 0);
  };
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        server: { type: 'string' },
        room: { type: 'string' },
        'publish-token': { type: 'string' },
        'play-token': { type: 'string' },
        seconds: { type: 'string', default: defaultSeconds },
        ...options,
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
  if (!(seconds >= 2 && seconds <= maxSeconds)) usage(`--seconds must be between 2 and ${maxSeconds}`);
  return {
    server,
    room: values.room,
    publishToken: values['publish-token'] ?? '',
    playToken: values['play-token'] ?? '',
    seconds,
    ...extra(values, usage),
  };
}

// pageUrl is the address of demo/<file> on opts.server for opts.room, with the
// token (if any) and the `extra` query parameters.
export function pageUrl(opts, file, token, extra = {}) {
  const q = new URLSearchParams({ room: opts.room, ...extra });
  if (token) q.set('token', token);
  return `${opts.server}/demo/${file}?${q}`;
}

// firstLine drops the call log and colours Playwright appends to its errors,
// and any token in a URL it quotes.
export const firstLine = (err) =>
  err.message
    .split('\n')[0]
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, '')
    .replace(/([?&]token=)[^&\s"]+/g, '$1…');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// until polls check() every everyMs until it returns { ok: true, ... }, which it returns,
// or throws what(last) after ms.
export async function until(ms, check, what, everyMs = 200) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await check();
    if (last?.ok) return last;
    if (Date.now() > deadline) throw new Error(what(last));
    await sleep(everyMs);
  }
}

function bounded(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// A Side is one demo page in its own browser context, with its console errors.
export class Side {
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

  // open loads url in a new browser context; setup(context), when given, runs
  // first (to route URLs the server does not serve, say).
  async open(browser, url, setup) {
    const context = await browser.newContext();
    if (setup) await setup(context);
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

  eval(fn, arg) {
    return bounded(this.page.evaluate(fn, arg), EVAL_MS, `${this.name} page`);
  }

  glint() {
    if (!this.loaded) return Promise.resolve(null);
    return this.eval(() => (window.glint ? { state: window.glint.state, error: window.glint.error, history: window.glint.history } : null))
      .catch((e) => ({ state: 'unknown', error: e.message }));
  }

  async waitLive() {
    const started = Date.now();
    let waitErr = null;
    await this.page
      .waitForFunction(() => ['live', 'failed'].includes(window.glint?.state), null, {
        timeout: LIVE_MS,
        polling: 100,
      })
      .catch((err) => {
        waitErr = err;
      });
    const g = await this.glint();
    if (g?.state === 'live') return;
    if (g?.state === 'failed') throw new Error(`${this.name} page failed: ${g.error}`);
    // The wait can also end early (the page navigated, say): say how, and after how long.
    const how = waitErr ? `; the wait ended after ${Date.now() - started} ms: ${firstLine(waitErr)}` : '';
    const seen = g?.history?.length ? `; its states: ${g.history.join(', ')}` : '';
    throw new Error(`${this.name} page not live within ${LIVE_MS / 1000} s (state ${g?.state ?? 'no window.glint'})${how}${seen}`);
  }

  // stats is a viewer's window.glintStats() (demo/play.js).
  stats() {
    return this.eval(() => window.glintStats());
  }
}

// waitFirstFrame returns once the viewer has decoded a video frame of known size, or throws
// after FIRST_FRAME_MS; `who` names the viewer in the error ("viewer live but …").
export async function waitFirstFrame(viewer, who) {
  const deadline = Date.now() + FIRST_FRAME_MS;
  let s;
  do {
    s = await viewer.stats();
    // Chromium's stats can count the first decoded frame a moment before they
    // report its size (CI saw framesDecoded 1 with 0x0): wait for both.
    const v = s.video;
    if (v.framesDecoded > 0 && v.frameWidth > 0 && v.frameHeight > 0) return;
    await sleep(250);
  } while (Date.now() < deadline);
  throw new Error(
    `${who} live but no video frame decoded within ${FIRST_FRAME_MS / 1000} s ` +
      `(video packetsReceived ${s.video.packetsReceived}, audio packetsReceived ${s.audio.packetsReceived})`,
  );
}

// sampleWindow pushes { t, ...await read() } onto samples every SAMPLE_MS for
// `seconds`, t being ms since the first read started, taken once read is done.
export async function sampleWindow(seconds, samples, read) {
  const t0 = Date.now();
  for (;;) {
    const s = await read();
    samples.push({ t: Date.now() - t0, ...s });
    const elapsed = Date.now() - t0;
    if (elapsed >= seconds * 1000) return;
    await sleep(Math.min(SAMPLE_MS, seconds * 1000 - elapsed));
  }
}

// run launches the system's headless Chromium (CHROMIUM, default
// /usr/bin/chromium), calls test(browser) and then finishes: it reads every
// side's window.glint state, together with lastLook() if given, closes the pages
// and Chromium, prints one JSON line on stdout and exits 0, or 1 when test threw
// or the watchdog fired. The JSON line is { ok, reason, ...result(states,
// elapsedMs) }, states being the sides' window.glint in `sides` order. On
// failure stderr gets `name: FAIL: reason`, each opened side's state and
// console errors, then failNotes()'s lines.
//
// sides[0] is the publisher: the viewers' pages close before it.
export async function run({ name, overallMs, sides, test, lastLook = async () => {}, result, failNotes = () => [] }) {
  // The watchdog leaves room for finish(): reading the pages' state (in parallel), closing Chromium.
  const watchdogMs = overallMs - EVAL_MS - CLOSE_MS;
  const started = Date.now();
  let browser = null;
  let finished = false;

  const finish = async (err) => {
    if (finished) return;
    finished = true;
    clearTimeout(watchdog);
    const [states] = await Promise.all([Promise.all(sides.map((side) => side.glint())), lastLook()]);
    if (browser) {
      // Pages first, so their pagehide handlers DELETE the WHIP/WHEP sessions.
      const close = async () => {
        for (const side of [...sides.slice(1), sides[0]]) await side.page?.close().catch(() => {});
        await browser.close();
      };
      await bounded(close(), CLOSE_MS, 'closing Chromium').catch(() => {});
    }
    const out = {
      ok: !err,
      reason: err ? firstLine(err) : null,
      ...result(states, Date.now() - started),
    };
    if (err) {
      const lines = [`${name}: FAIL: ${firstLine(err)}`];
      sides.forEach((side, i) => {
        if (!side.page) return;
        const g = states[i];
        lines.push(`  ${side.name} page: state=${g?.state ?? '-'} error=${g?.error ?? '-'}`);
        for (const c of side.console) lines.push(`  ${side.name} ${c}`);
      });
      lines.push(...failNotes());
      console.error(lines.join('\n'));
    }
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(err ? 1 : 0));
  };

  const watchdog = setTimeout(() => finish(new Error(`overall timeout of ${watchdogMs / 1000} s`)), watchdogMs);

  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      headless: true,
      timeout: LAUNCH_MS,
    });
    await test(browser);
    await finish(null);
  } catch (err) {
    await finish(err);
  }
}

// judgePlayback throws unless every sample shows a frame size (one of heights, when given),
// framesDecoded
// grew over every STEP_MS of the window, and audio packets kept arriving.
export function judgePlayback(samples, heights = []) {
  if (samples.length < 3) throw new Error(`only ${samples.length} samples taken`);
  for (const s of samples) {
    const { frameWidth: w, frameHeight: h } = s.video;
    if (!(w > 0 && h > 0)) throw new Error(`no video frame size at t=${s.t} ms (${w}x${h})`);
    if (heights.length && !heights.includes(h)) {
      throw new Error(`frame height ${h} at t=${s.t} ms, want one of ${heights.join(', ')}`);
    }
  }
  let steps = 0;
  for (let i = 1, j = -1; i < samples.length; i++) {
    while (j + 1 < i && samples[j + 1].t <= samples[i].t - STEP_MS) j++;
    if (j < 0) continue;
    const [a, b] = [samples[j], samples[i]];
    if (!(b.video.framesDecoded > a.video.framesDecoded)) {
      throw new Error(
        `video stalled: framesDecoded ${b.video.framesDecoded} at t=${b.t} ms, ${a.video.framesDecoded} at t=${a.t} ms`,
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
