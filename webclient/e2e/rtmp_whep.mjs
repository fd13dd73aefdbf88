#!/usr/bin/env node
// End-to-end check of RTMP ingest played in a browser: an RTMP encoder (ffmpeg,
// started by the Go test TestBrowserRTMPPlay before this script) publishes to
// the room through Glint's ffmpeg ladder; this script opens demo/play.html for
// the room in the system's headless Chromium (never a downloaded one) and
// passes when the viewer keeps decoding video frames and receiving audio
// packets for the whole --seconds window, every frame being one of --heights
// (the ladder's renditions: the SFU moves the viewer between them with its
// bandwidth estimate), if given.
//
//   node e2e/rtmp_whep.mjs --server http://127.0.0.1:8080 --room e2e \
//     [--play-token T] [--seconds 5] [--heights 720,480]
//
// Prints one JSON line (result and samples) on stdout. Exit 0: pass; 1: fail,
// with the reason, the page's window.glint.error and console errors on stderr;
// 2: bad usage. CHROMIUM overrides the browser path (default /usr/bin/chromium).
// The command line, Chromium, the page and the run's ending live in lib.mjs.
import { STEP_MS, Side, pageUrl, parseCli, run, sampleWindow, waitFirstFrame } from './lib.mjs';

const OVERALL_MS = 60_000; // cap for the whole run, start to exit

// judge throws unless every sample shows one of the wanted frame heights, framesDecoded
// grew over every STEP_MS of the window, and audio packets kept arriving.
function judge(samples, heights) {
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

const opts = parseCli({
  name: 'rtmp_whep',
  usageLine:
    'usage: node e2e/rtmp_whep.mjs --server http://HOST:PORT --room ROOM [--play-token T] [--seconds 5] [--heights H,H]',
  seconds: '5',
  options: { heights: { type: 'string' } },
  extra: (values, usage) => {
    if (values.heights === undefined) return { heights: [] };
    const heights = values.heights.split(',').map(Number);
    if (!heights.every((h) => Number.isInteger(h) && h > 0)) usage('--heights must be positive integers, comma-separated');
    return { heights };
  },
});
const play = new Side('play');
const samples = [];

run({
  name: 'rtmp_whep',
  overallMs: OVERALL_MS,
  sides: [play],
  async test(browser) {
    await play.open(browser, pageUrl(opts, 'play.html', opts.playToken));
    await play.waitLive();
    await waitFirstFrame(play, 'viewer');
    await sampleWindow(opts.seconds, samples, async () => {
      const s = await play.stats();
      return { video: s.video, audio: s.audio };
    });
    judge(samples, opts.heights);
  },
  result: ([ply], elapsedMs) => ({
    server: opts.server,
    room: opts.room,
    seconds: opts.seconds,
    heights: opts.heights,
    elapsedMs,
    play: ply,
    console: { play: play.console },
    samples,
  }),
});
