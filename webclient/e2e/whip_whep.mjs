#!/usr/bin/env node
// End-to-end check of WHIP ingest and WHEP playback through a running Glint
// server, in the system's headless Chromium (never a downloaded one): page 1
// publishes Chromium's fake camera and microphone with demo/publish.html,
// page 2, in its own browser context, plays the room with demo/play.html, and
// the check passes when the viewer keeps decoding video frames and receiving
// audio packets for the whole --seconds window.
//
//   node e2e/whip_whep.mjs --server http://127.0.0.1:8080 --room e2e \
//     [--publish-token T] [--play-token T] [--seconds 5] [--play-server URL]
//
// --play-server plays from another node of a cluster than the one published to (it
// relays the room: docs/CLUSTER.md).
//
// Prints one JSON line (result and samples) on stdout. Exit 0: pass; 1: fail,
// with the reason, the pages' window.glint.error and console errors on stderr;
// 2: bad usage. CHROMIUM overrides the browser path (default /usr/bin/chromium).
// The command line, Chromium, the pages and the run's ending live in lib.mjs.
import { Side, judgePlayback, pageUrl, parseCli, run, sampleWindow, waitFirstFrame } from './lib.mjs';

const OVERALL_MS = 60_000; // cap for the whole run, start to exit

const opts = parseCli({
  name: 'whip_whep',
  usageLine:
    'usage: node e2e/whip_whep.mjs --server http://HOST:PORT --room ROOM ' +
    '[--publish-token T] [--play-token T] [--seconds 5] [--play-server http://HOST:PORT]',
  seconds: '5',
  // --play-server: the viewer's page (and so its WHEP) on another node of a cluster,
  // which relays the room from the publisher's node.
  options: { 'play-server': { type: 'string' } },
  extra: (values, usage) => {
    const playServer = values['play-server'];
    if (playServer !== undefined && !URL.canParse(playServer)) usage(`--play-server ${playServer}: not a URL`);
    return { playServer: playServer ? new URL(playServer).href.replace(/\/+$/, '') : undefined };
  },
});
const publish = new Side('publish');
const play = new Side('play');
const samples = [];

run({
  name: 'whip_whep',
  overallMs: OVERALL_MS,
  sides: [publish, play],
  async test(browser) {
    await publish.open(browser, pageUrl(opts, 'publish.html', opts.publishToken));
    await publish.waitLive();
    await play.open(browser, pageUrl({ ...opts, server: opts.playServer ?? opts.server }, 'play.html', opts.playToken));
    await play.waitLive();
    await waitFirstFrame(play, 'viewer');
    await sampleWindow(opts.seconds, samples, async () => {
      const s = await play.stats();
      return { video: s.video, audio: s.audio };
    });
    judgePlayback(samples);
  },
  result: ([pub, ply], elapsedMs) => ({
    server: opts.server,
    playServer: opts.playServer ?? opts.server,
    room: opts.room,
    seconds: opts.seconds,
    elapsedMs,
    publish: pub,
    play: ply,
    console: { publish: publish.console, play: play.console },
    samples,
  }),
});
