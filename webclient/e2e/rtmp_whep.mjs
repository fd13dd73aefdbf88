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
import { Side, judgePlayback, pageUrl, parseCli, run, sampleWindow, waitFirstFrame } from './lib.mjs';

const OVERALL_MS = 60_000; // cap for the whole run, start to exit

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
    judgePlayback(samples, opts.heights);
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
