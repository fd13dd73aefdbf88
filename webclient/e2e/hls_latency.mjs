#!/usr/bin/env node
// LL-HLS in a real browser, and its glass-to-glass latency: headless Chromium
// (the system's, never a downloaded one) plays a Glint room's
// /hls/{room}/index.m3u8 with hls.js (webclient's pinned devDependency, served
// to the page from node_modules) and measures, frame by frame, how old the
// picture on screen is.
//
// With --source whip (the default) a publisher page draws a pixel clock on a
// canvas, 30 times a second: Date.now() and a frame counter as 64 black or
// white blocks (see drawClock), publishes it (captureStream, one frame per
// drawing) with the fake microphone over WHIP (H.264 forced with
// setCodecPreferences; --video-codec vp8 sends VP8, which Glint transcodes to
// H.264 with ffmpeg for LL-HLS), and the player, in its own browser context, draws each
// frame it shows (requestVideoFrameCallback) to a canvas, reads the clock back
// and records Date.now() minus the clock: glass to glass, capture to display,
// on one machine's clock. With --source none the room's host is already live
// (an RTMP encoder started by the Go test): no clock to read, so only playback,
// stalls and audio are checked.
//
//   node e2e/hls_latency.mjs --server http://127.0.0.1:8080 --room e2e \
//     [--publish-token T] [--play-token T] [--seconds 60] [--source whip|none]
//     [--max-stall-ms MS] [--hls-config JSON] [--hls-debug] [--resync-s 0.15]
//     [--alerts N --admin-token T] [--whip-url URL] [--hls-url URL]
//     [--video-codec h264|vp8]
//
// Prints one JSON line on stdout: glass-to-glass p50/p95/max (ms), frames shown
// and decoded, stalls (hls.js BUFFER_STALLED_ERROR with its duration up to
// STALL_RESOLVED, and the video's `waiting` events up to `playing`, each with
// the buffer and the loads around it), hls.js's
// own latency estimate, the latency by EXT-X-PROGRAM-DATE-TIME, the chosen
// level and the audio buffered. Exit 0: pass; 1: fail (the player never
// played, fewer than half the window's frames decoded, the clock could not be
// read, no audio, a stall longer than --max-stall-ms, a fatal hls.js error);
// 2: bad usage. Latency is reported, never judged. CHROMIUM overrides the
// browser path (default /usr/bin/chromium).
//
// hls.js settings (HLS_CONFIG, overridable with --hls-config JSON): what a user
// would set. lowLatencyMode makes hls.js load parts with blocking playlist
// reloads and aim PART-HOLD-BACK (Glint: three parts, 600 ms) behind the live
// edge; maxLiveSyncPlaybackRate 1.1 lets it play a little faster to get back to
// its target after a stall (it only acts with over a second buffered). Tried
// against Glint on a 2-core machine, 20 s runs, before the stall fix and the resync
// below (docs/BENCHMARKS.md has today's figures):
//  - the above: glass to glass ~0.86-0.93 s (p50) in runs without a stall;
//  - maxLiveSyncPlaybackRate 1 (hls.js's default): no difference seen;
//  - liveSyncDuration 1.5: ~1.45-1.56 s, stalls shorter (~0.75 s) but still there;
//  - backBufferLength 10: no difference to the stalls;
//  - lowLatencyMode false: on a stream a few seconds old hls.js did not start
//    within 25 s (its 3-target-duration hold-back falls in the leading GAP
//    segments).
// Resync (--resync-s, 0 turns it off): hls.js takes its start position,
// PART-HOLD-BACK behind the edge, from the playlist it loads at join, but plays
// only once the parts from the segment's keyframe up to it are in, ~0.3 s later,
// and never makes that up (it plays faster only with over a second buffered, and
// a 0.6 s hold-back never has that much). The page does what Glint's player
// (webclient/sdk, issue 14) is to do: when hls.js's own latency estimate stays more
// than --resync-s over its target for a second and the target position is
// buffered, it jumps there (at join, and again after a stall). Each jump is in the
// JSON (resyncs). Stock hls.js: --resync-s 0.
// Events on their frame (--alerts N, with a roomAdmin --admin-token): during the
// window the publisher page (publishing with that token) sends N `alert.show`
// messages on its WHIP connection's data channel, one every 2 s, each noting the
// frame it had just drawn. Glint stamps each alert with a
// mediaTime and puts it in the media playlists as an EXT-X-DATERANGE; hls.js turns it
// into a metadata cue. The player shows an event on the first frame whose media time
// reaches the cue's start (requestVideoFrameCallback, half a frame early at most), reads
// the pixel clock on that frame, and the run fails unless every alert was shown within
// one frame of the frame its mediaTime names (the frame the publisher drew at that
// capture time): that is the LL-HLS half of "events on their frame" (PROGRAM-DATE-TIME,
// decode time and DATERANGE agreeing). How far the server's stamp is behind the frame
// the host was drawing when it fired (stampLagFrames) is reported, not judged: it is
// the stamping, not LL-HLS (issue 14).
// Another server, side by side (docs/BENCHMARKS.md): --whip-url is the WHIP endpoint the
// publisher posts to (plain WHIP, no token; the page is served on --server's origin, which
// should be the WHIP server's: Chromium blocks a routed page's requests to another
// local origin), --hls-url the multivariant playlist the player plays (its page is served
// on that URL's origin).
// --hls-debug turns on hls.js's log and puts its first 400 lines (the join:
// hlsLogStart) and its lines from 3 s before each stall to its end
// (hlsLogAroundStalls) in the JSON.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Side, parseCli, run, sleep } from './lib.mjs';

const FPS = 30;
const WIDTH = 640;
const HEIGHT = 360;
const FIRST_FRAME_MS = 25_000; // player page loaded to its first frame on screen
const POLL_MS = 1_000;
const MIN_FRAME_RATIO = 0.5; // frames decoded over the window, of seconds * FPS
const HLS_CONFIG = { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.1 };
const PAGE_PREFIX = '/__e2e__/hls'; // pages and hls.js, answered by the browser context, never by Glint

const opts = parseCli({
  name: 'hls_latency',
  usageLine:
    'usage: node e2e/hls_latency.mjs --server http://HOST:PORT --room ROOM [--publish-token T] [--play-token T] ' +
    '[--seconds 60] [--source whip|none] [--max-stall-ms MS] [--hls-config JSON] [--hls-debug] [--resync-s 0.15] [--alerts N --admin-token T] [--whip-url URL] [--hls-url URL] [--video-codec h264|vp8]',
  seconds: '60',
  maxSeconds: 600,
  options: {
    source: { type: 'string', default: 'whip' },
    'max-stall-ms': { type: 'string' },
    'hls-config': { type: 'string', default: '{}' },
    'hls-debug': { type: 'boolean', default: false },
    'resync-s': { type: 'string', default: '0.15' },
    alerts: { type: 'string', default: '0' },
    'admin-token': { type: 'string' },
    'whip-url': { type: 'string' },
    'video-codec': { type: 'string', default: 'h264' },
    'hls-url': { type: 'string' },
  },
  extra: (values, usage) => {
    if (!['whip', 'none'].includes(values.source)) usage('--source must be whip or none');
    let maxStallMs = null;
    if (values['max-stall-ms'] !== undefined) {
      maxStallMs = Number(values['max-stall-ms']);
      if (!(maxStallMs > 0)) usage('--max-stall-ms must be a positive number');
    }
    let hlsConfig;
    try {
      hlsConfig = { ...HLS_CONFIG, ...JSON.parse(values['hls-config']) };
    } catch (err) {
      usage(`--hls-config: ${err.message}`);
    }
    if (values['hls-debug']) hlsConfig.debug = true;
    const resyncS = Number(values['resync-s']);
    if (!(resyncS >= 0)) usage('--resync-s must be a number of seconds, 0 to turn resync off');
    const alerts = Number(values.alerts);
    if (!(Number.isInteger(alerts) && alerts >= 0)) usage('--alerts must be a whole number');
    if (alerts && values.source !== 'whip') usage('--alerts needs --source whip (the pixel clock)');
    if (alerts && !values['admin-token']) usage('--alerts needs --admin-token (alert.show is a roomAdmin message)');
    if (alerts && 1 + 2 * alerts > Number(values.seconds) - 3) usage('--alerts: one every 2 s, the last 3 s before the end of --seconds');
    if (!['h264', 'vp8'].includes(values['video-codec'])) usage('--video-codec must be h264 or vp8');
    for (const k of ['whip-url', 'hls-url']) if (values[k] !== undefined && !URL.canParse(values[k])) usage(`--${k} ${values[k]}: not a URL`);
    if (alerts && (values['whip-url'] || values['hls-url'])) usage('--alerts is for Glint only, without --whip-url or --hls-url');
    return {
      source: values.source, maxStallMs, hlsConfig, hlsDebug: values['hls-debug'], resyncS, alerts, adminToken: values['admin-token'] ?? '',
      whipUrl: values['whip-url'] ?? '', hlsUrl: values['hls-url'] ?? '', videoCodec: values['video-codec'],
    };
  },
});
const OVERALL_MS = opts.seconds * 1000 + 75_000; // cap for the whole run, start to exit

// ---- The pixel clock. These functions run in the pages (they are sent as their source). ----

// The clock is a 16 x 4 grid of square blocks across the top of the picture, read left to right,
// top to bottom, most significant bit first: 44 bits of Date.now(), 16 of a frame counter and
// 4 of check (the XOR of the other fifteen 4-bit groups). Blocks are as big as a 640-wide picture
// allows (40 px), so the encoder's blur and a scaled rendition cannot flip them.
const CLOCK = { cols: 16, rows: 4, timeBits: 44, frameBits: 16, checkBits: 4 };

function clockBits(ms, frame, clock) {
  const bits = [];
  for (let i = clock.timeBits - 1; i >= 0; i--) bits.push(Math.floor(ms / 2 ** i) % 2);
  for (let i = clock.frameBits - 1; i >= 0; i--) bits.push((frame >> i) & 1);
  let check = 0;
  for (let i = 0; i < bits.length; i += 4) check ^= bits[i] * 8 + bits[i + 1] * 4 + bits[i + 2] * 2 + bits[i + 3];
  for (let i = clock.checkBits - 1; i >= 0; i--) bits.push((check >> i) & 1);
  return bits;
}

function drawClock(ctx, ms, frame, width, height, clock) {
  const cell = width / clock.cols;
  ctx.fillStyle = '#808080';
  ctx.fillRect(0, 0, width, height);
  clockBits(ms, frame, clock).forEach((bit, i) => {
    ctx.fillStyle = bit ? '#ffffff' : '#000000';
    ctx.fillRect((i % clock.cols) * cell, Math.floor(i / clock.cols) * cell, cell, cell);
  });
  // For people watching: the time as text and a bar that sweeps once a second.
  ctx.fillStyle = '#000000';
  ctx.font = `${Math.round(height / 8)}px monospace`;
  ctx.fillText(`${new Date(ms).toISOString().slice(11, 23)}  #${frame}`, cell / 2, clock.rows * cell + height / 6);
  ctx.fillStyle = '#1060c0';
  ctx.fillRect(((ms % 1000) / 1000) * (width - cell), height - cell, cell, cell);
}

// readClock decodes the clock from the picture's RGBA pixels (width x height): each block's
// centre half, averaged, above or below mid-grey. It returns null when the check fails or a
// block is too grey to call.
function readClock(data, width, clock) {
  const cell = width / clock.cols;
  const n = clock.timeBits + clock.frameBits + clock.checkBits;
  const bits = [];
  for (let i = 0; i < n; i++) {
    const x0 = Math.round((i % clock.cols) * cell + cell / 4);
    const y0 = Math.round(Math.floor(i / clock.cols) * cell + cell / 4);
    const side = Math.round(cell / 2);
    let sum = 0;
    for (let y = y0; y < y0 + side; y += 2) {
      for (let x = x0; x < x0 + side; x += 2) {
        const p = (y * width + x) * 4;
        sum += data[p] + data[p + 1] + data[p + 2];
      }
    }
    const level = sum / (3 * Math.ceil(side / 2) ** 2);
    if (level > 96 && level < 160) return null;
    bits.push(level >= 128 ? 1 : 0);
  }
  let ms = 0;
  for (let i = 0; i < clock.timeBits; i++) ms = ms * 2 + bits[i];
  let frame = 0;
  for (let i = 0; i < clock.frameBits; i++) frame = frame * 2 + bits[clock.timeBits + i];
  const again = clockBits(ms, frame, clock);
  for (let i = 0; i < n; i++) if (again[i] !== bits[i]) return null;
  return { ms, frame };
}

// ---- The publisher page ----

async function publisherMain({ room, token, adminToken, whipUrl, videoCodec, fps, width, height, clock }) {
  // window.glint as the demo pages have it, for lib.mjs's Side.waitLive.
  const g = (window.glint = { state: 'new', error: null });
  const setState = (state, detail) => {
    g.state = state;
    document.getElementById('status').textContent = detail ? `${state}: ${detail}` : state;
  };
  const fail = (err) => {
    g.error = err instanceof Error ? err.message : String(err);
    setState('failed');
    document.getElementById('error').textContent = g.error;
  };
  try {
    const canvas = document.getElementById('clock');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d');
    let frame = 0;
    let video = null;
    const drawn = (window.glintDrawn = []); // [clock ms, frame] of every drawing
    const draw = () => {
      const ms = Date.now();
      drawClock(ctx, ms, frame, width, height, clock);
      drawn.push([ms, frame]);
      frame = (frame + 1) % 2 ** clock.frameBits;
      video?.requestFrame();
    };
    draw();
    // A drift-free 30 fps timer: the canvas is redrawn every frame period.
    const period = 1000 / fps;
    let next = performance.now();
    const tick = () => {
      draw();
      next += period;
      const now = performance.now();
      if (next < now - period) next = now; // the page was paused: no burst to catch up
      setTimeout(tick, Math.max(0, next - now));
    };
    setTimeout(tick, period);

    setState('connecting', 'asking for the (fake) microphone');
    const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
    // One frame per drawing: captureStream(30) caps the rate, and drawings that come a little
    // early (timer jitter) are dropped, so headless Chromium sent 15 fps of a 30 fps canvas.
    [video] = canvas.captureStream(0).getVideoTracks();
    video.contentHint = 'detail';
    const stream = new MediaStream([video, ...mic.getAudioTracks()]);
    const pc = new RTCPeerConnection();
    for (const track of stream.getTracks()) {
      const t = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      if (track.kind !== 'video') continue;
      const codecs = RTCRtpSender.getCapabilities('video').codecs;
      const mime = `video/${videoCodec}`;
      const want = codecs.filter((c) => c.mimeType.toLowerCase() === mime);
      if (!want.length) throw new Error(`this browser cannot send ${videoCodec}`);
      t.setCodecPreferences([...want, ...codecs.filter((c) => c.mimeType.toLowerCase() !== mime)]);
      // A resolution change restarts the LL-HLS variant (new SPS): keep it, drop frames instead.
      const params = t.sender.getParameters();
      params.degradationPreference = 'maintain-resolution';
      await t.sender.setParameters(params).catch(() => {});
    }
    // What the page drew and what Chromium sent, for the report.
    window.glintPublishStats = async () => {
      const out = { drawn: frame };
      (await pc.getStats()).forEach((r) => {
        if (r.type !== 'outbound-rtp' || r.kind !== 'video') return;
        Object.assign(out, {
          framesSent: r.framesSent, framesEncoded: r.framesEncoded, fps: r.framesPerSecond,
          width: r.frameWidth, height: r.frameHeight, keyFrames: r.keyFramesEncoded, bytesSent: r.bytesSent,
          encoder: r.encoderImplementation, limitation: r.qualityLimitationReason,
          limitationS: r.qualityLimitationDurations, pliCount: r.pliCount, targetBitrate: r.targetBitrate,
        });
      });
      return out;
    };
    // With alerts the host publishes with its roomAdmin token and fires them on its own
    // data channel, negotiated in the WHIP offer.
    if (adminToken) openAlerts(pc, room, drawn);
    const url = whipUrl || `${location.origin}/whip/${encodeURIComponent(room)}`;
    await plainWHIP(pc, url, whipUrl ? '' : adminToken || token, setState, fail);
  } catch (err) {
    fail(err);
  }
}

// plainWHIP publishes pc to a WHIP endpoint, Glint's or another server's: no trickle (every
// candidate in the offer), the token (if any) as a Bearer, DELETE when the page goes. Not the
// SDK's Publisher on purpose: the clock's encoding (degradationPreference, no bitrate cap), its
// alert channel (no mediaTime of the host's own) and the same offer to every server are this
// measurement's, set on pc before the offer.
async function plainWHIP(pc, url, token, setState, fail) {
  pc.addEventListener('connectionstatechange', () => {
    if (pc.connectionState === 'connected') setState('live');
    else if (pc.connectionState === 'failed') fail(new Error('ICE/DTLS connection to the server failed'));
  });
  setState('connecting', `POST ${url}`);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
    setTimeout(resolve, 2000);
  });
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  const res = await fetch(url, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`POST ${url}: ${res.status} ${body.slice(0, 200)}`);
  const loc = res.headers.get('Location');
  if (loc) addEventListener('pagehide', () => fetch(new URL(loc, url), { method: 'DELETE', headers: auth, keepalive: true }).catch(() => {}));
  await pc.setRemoteDescription({ type: 'answer', sdp: body });
}

// openAlerts opens the host's data channel (glint.v1, docs/PROTOCOL.md) on its WHIP
// connection and defines window.glintFireAlert(text): it sends alert.show and returns the
// frame the page had just drawn.
function openAlerts(pc, room, drawn) {
  const dc = pc.createDataChannel('glint.v1');
  const replies = (window.glintAlertReplies = []); // acks and errors for our ids
  const open = new Promise((resolve, reject) => {
    dc.onopen = resolve;
    dc.onclose = () => reject(new Error('the glint.v1 data channel closed'));
  });
  dc.onmessage = (m) => {
    const env = JSON.parse(m.data);
    if (env.id?.startsWith('e2e-alert-')) replies.push({ id: env.id, type: env.type, mediaTime: env.mediaTime, payload: env.payload });
  };
  let n = 0;
  window.glintFireAlert = async (text) => {
    await open;
    const [ms, frame] = drawn[drawn.length - 1];
    const id = `e2e-alert-${++n}`;
    dc.send(JSON.stringify({ v: 1, type: 'alert.show', id, room, payload: { kind: 'e2e', text, durationMs: 1000 } }));
    return { id, text, firedAt: Date.now(), drawnMs: ms, drawnFrame: frame };
  };
}

// ---- The player page ----

function playerMain({ src, hlsConfig, resyncS, readPixels, width, height, clock }) {
  const g = (window.glint = { state: 'new', error: null });
  const video = document.getElementById('video');
  const canvas = document.getElementById('grab');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const gridHeight = Math.ceil((width / clock.cols) * clock.rows);
  const s = (window.hlsStats = {
    firstFrameAt: null, // Date.now() of the first frame on screen
    frames: [], // [Date.now(), presentedFrames, clock ms or null, frame counter or null, level]
    stalls: [], // { kind: 'hls' | 'waiting', at, ms }
    errors: [], // non-fatal hls.js errors other than stalls, by details
    errorNotes: [], // the first few, with their messages
    fatal: null,
    audio: { tracks: 0, appends: 0, bufferedEnd: null, firstBufferedEnd: null },
    levelSwitches: [],
    levels: [],
    estimates: [], // [Date.now(), hls.latency, hls.targetLatency, Date.now() - hls.playingDate]
    resyncs: [], // { at, fromS, jumpS }: jumps to hls.js's target position (--resync-s)
    events: [], // Glint events shown on their frame: see showEvents
  });
  const fail = (msg) => {
    g.error = msg;
    g.state = 'failed';
  };
  if (!Hls.isSupported()) return fail('hls.js: no MediaSource here');
  const hls = (window.hls = new Hls(hlsConfig));
  const now = () => Date.now();
  // where describes the playhead and the buffers when a stall starts.
  const ranges = (r) => Array.from({ length: r.length }, (_, i) => `${r.start(i).toFixed(3)}-${r.end(i).toFixed(3)}`).join(' ');
  const where = () => `t=${video.currentTime.toFixed(3)} buffered ${ranges(video.buffered)} latency ${hls.latency.toFixed(3)}`;
  let hlsStall = null;
  let waitingSince = null;
  hls.on(Hls.Events.ERROR, (_, d) => {
    if (d.fatal) {
      s.fatal = `${d.type}/${d.details}: ${d.error?.message ?? d.reason ?? ''}`;
      return fail(`hls.js fatal error ${s.fatal}`);
    }
    if (d.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) {
      // d.stalled.start is when hls.js saw the playhead stop (performance.now()).
      const start = d.stalled?.start ?? performance.now();
      hlsStall = { kind: 'hls', at: now() - (performance.now() - start), ms: null, detail: where() };
      s.stalls.push(hlsStall);
      return;
    }
    s.errors.push(d.details);
    if (s.errorNotes.length < 10) s.errorNotes.push(`${d.details}: ${d.error?.message ?? d.reason ?? ''}`.slice(0, 300));
  });
  hls.on(Hls.Events.STALL_RESOLVED, () => {
    if (hlsStall) {
      hlsStall.ms = now() - hlsStall.at;
      hlsStall.loads = loadsAround(hlsStall.at);
    }
    hlsStall = null;
  });
  // The last loads (playlists, parts) with their timing, to tell what a stall waited for.
  const loads = [];
  const noteLoad = (what, stats) => {
    if (!stats?.loading) return;
    const base = now() - performance.now(); // performance.now() to Date.now()
    loads.push({ what, start: base + stats.loading.start, end: base + stats.loading.end, bytes: stats.loaded });
    if (loads.length > 200) loads.shift();
  };
  const loadsAround = (at) =>
    loads
      .filter((l) => l.end >= at - 1000)
      .map((l) => `${l.what} ${Math.round(l.start - at)}..${Math.round(l.end - at)} ms ${l.bytes} B`);
  hls.on(Hls.Events.FRAG_LOADED, (_, d) => {
    const f = d.frag;
    noteLoad(`${f.type} ${f.sn}${d.part ? `.${d.part.index}` : ''}`, d.part ? d.part.stats : f.stats);
  });
  hls.on(Hls.Events.LEVEL_LOADED, (_, d) => noteLoad(`playlist video ${d.details.endSN}.${d.details.partList?.length ?? '-'}`, d.stats));
  hls.on(Hls.Events.AUDIO_TRACK_LOADED, (_, d) => noteLoad(`playlist audio ${d.details.endSN}`, d.stats));
  video.addEventListener('waiting', () => {
    // A resync's seek (within the buffer) waits a few ms for its frame: a jump, not a stall.
    if (video.seeking) return;
    if (s.firstFrameAt !== null && waitingSince === null) waitingSince = { kind: 'waiting', at: now(), ms: null, detail: where() };
  });
  video.addEventListener('playing', () => {
    if (!waitingSince) return;
    waitingSince.ms = now() - waitingSince.at;
    if (waitingSince.ms > 500) waitingSince.loads = loadsAround(waitingSince.at);
    s.stalls.push(waitingSince);
    waitingSince = null;
  });
  hls.on(Hls.Events.MANIFEST_PARSED, (_, d) => {
    s.levels = d.levels.map((l) => ({ height: l.height, width: l.width, bitrate: l.bitrate, codecs: l.codecSet }));
    g.state = 'loading';
    video.muted = true; // autoplay without a gesture
    video.play().catch((err) => fail(`video.play(): ${err.message}`));
  });
  hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, (_, d) => (s.audio.tracks = d.audioTracks.length));
  hls.on(Hls.Events.LEVEL_SWITCHED, (_, d) => s.levelSwitches.push([now(), d.level]));
  hls.on(Hls.Events.BUFFER_APPENDED, (_, d) => {
    const r = d.timeRanges?.audio;
    if (d.type !== 'audio' || !r || !r.length) return;
    s.audio.appends++;
    s.audio.bufferedEnd = r.end(r.length - 1);
    if (s.audio.firstBufferedEnd === null) s.audio.firstBufferedEnd = s.audio.bufferedEnd;
  });
  let behind = 0; // checks in a row that found the player over resyncS behind its target
  setInterval(() => {
    if (s.firstFrameAt === null) return;
    const date = hls.playingDate;
    s.estimates.push([now(), hls.latency, hls.targetLatency, date ? now() - date.getTime() : null]);
    if (!resyncS || video.paused || video.seeking) return;
    behind = hls.latency - hls.targetLatency > resyncS ? behind + 1 : 0;
    const to = hls.liveSyncPosition;
    const r = video.buffered;
    const buffered = to !== null && Array.from({ length: r.length }, (_, i) => [r.start(i), r.end(i)]).some(([a, b]) => to >= a && to < b - 0.1);
    if (behind >= 2 && buffered && to > video.currentTime) {
      s.resyncs.push({ at: now(), fromS: Number(hls.latency.toFixed(3)), jumpS: Number((to - video.currentTime).toFixed(3)) });
      video.currentTime = to;
      behind = 0;
    }
  }, 500);

  const onFrame = (_, md) => {
    const t = now();
    if (s.firstFrameAt === null) {
      s.firstFrameAt = t;
      g.state = 'playing';
    }
    let ms = null;
    let frame = null;
    if (readPixels) {
      ctx.drawImage(video, 0, 0, width, height);
      const got = readClock(ctx.getImageData(0, 0, width, gridHeight).data, width, clock);
      if (got) ({ ms, frame } = got);
    }
    s.frames.push([t, md.presentedFrames, ms, frame, hls.currentLevel]);
    showEvents(md.mediaTime, t, ms, frame);
    video.requestVideoFrameCallback(onFrame);
  };
  // showEvents: the Glint events (EXT-X-DATERANGE, X-GLINT-EVENT: the envelope, base64url)
  // whose cue starts by this frame (half a frame early at most) are shown on it. A player
  // would draw them here; the page records the frame's pixel clock against the event's own
  // mediaTime.
  const shown = new Set();
  const halfFrame = 0.5 / 30;
  const showEvents = (mediaTime, t, ms, frame) => {
    for (const track of video.textTracks) {
      if (track.kind !== 'metadata' || !track.cues) continue;
      for (const cue of track.cues) {
        if (cue.value?.key !== 'X-GLINT-EVENT' || shown.has(cue.id) || cue.startTime > mediaTime + halfFrame) continue;
        shown.add(cue.id);
        let env = null;
        try {
          const b64 = cue.value.data.replace(/-/g, '+').replace(/_/g, '/');
          env = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
        } catch {
          s.errorNotes.push(`X-GLINT-EVENT of ${cue.id} is not base64url JSON`);
          continue;
        }
        s.events.push({
          id: cue.id, type: env.type, text: env.payload?.text ?? null, mediaTime: env.mediaTime,
          cueStartS: cue.startTime, frameMediaTimeS: mediaTime, shownAt: t, shownMs: ms, shownFrame: frame,
          // a cue that appeared after its frame was already on screen
          late: mediaTime - cue.startTime > 1.5 / 30,
        });
      }
    }
  };
  video.requestVideoFrameCallback(onFrame);
  hls.loadSource(src);
  hls.attachMedia(video);
}

// ---- Node side ----

const page = (title, body, script) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,"></head>
<body>${body}<script type="module">
const CLOCK = ${JSON.stringify(CLOCK)};
${clockBits}
${drawClock}
${readClock}
${script}
</script></body></html>`;

function publisherPage() {
  const args = { room: opts.room, token: opts.publishToken, adminToken: opts.alerts ? opts.adminToken : '', whipUrl: opts.whipUrl, videoCodec: opts.videoCodec, fps: FPS, width: WIDTH, height: HEIGHT, clock: CLOCK };
  return page(
    'Glint · pixel clock publisher',
    '<p>Status: <span id="status">new</span></p><p id="error"></p><canvas id="clock"></canvas>',
    `${publisherMain}\n${openAlerts}\n${plainWHIP}\npublisherMain(${JSON.stringify(args)});`,
  );
}

function playerPage() {
  const q = new URLSearchParams();
  if (opts.playToken) q.set('access_token', opts.playToken);
  const src = opts.hlsUrl || `${opts.server}/hls/${encodeURIComponent(opts.room)}/index.m3u8${q.size ? `?${q}` : ''}`;
  const args = { src, hlsConfig: opts.hlsConfig, resyncS: opts.resyncS, readPixels: opts.source === 'whip', width: WIDTH, height: HEIGHT, clock: CLOCK };
  return page(
    'Glint · hls.js player',
    `<script src="${PAGE_PREFIX}/hls.min.js"></script><video id="video" playsinline></video><canvas id="grab"></canvas>`,
    `${playerMain}\nplayerMain(${JSON.stringify(args)});`,
  );
}

// serve answers origin's PAGE_PREFIX/* in a browser context: the two pages and hls.js's dist
// file.
function serve(files, origin = opts.server) {
  return (context) =>
    context.route(`${origin}${PAGE_PREFIX}/**`, (route) => {
      const name = new URL(route.request().url()).pathname.slice(PAGE_PREFIX.length + 1);
      const file = files[name];
      if (!file) return route.fulfill({ status: 404, body: 'not found' });
      return route.fulfill({ status: 200, contentType: file.type, body: file.body() });
    });
}

const require = createRequire(import.meta.url);
const hlsJs = () => readFileSync(require.resolve('hls.js/dist/hls.min.js'));
const hlsVersion = JSON.parse(readFileSync(require.resolve('hls.js/package.json'))).version;

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const median = (xs) => percentile([...xs].sort((a, b) => a - b), 50);
const round = (x, digits = 0) => (x === null || x === undefined ? null : Number(x.toFixed(digits)));

// summarize turns the player's raw record into the figures, over the window [from, to].
function summarize(raw, from, to) {
  const inWindow = raw.frames.filter(([t]) => t >= from && t <= to);
  const clocked = inWindow.filter(([, , ms]) => ms !== null);
  const lat = clocked.map(([t, , ms]) => t - ms).sort((a, b) => a - b);
  const distinct = new Set(clocked.map(([, , , f]) => f)).size;
  let maxGap = 0;
  for (let i = 1; i < inWindow.length; i++) maxGap = Math.max(maxGap, inWindow[i][0] - inWindow[i - 1][0]);
  // The largest step in capture time between frames shown one after the other: a hole in the
  // stream (skipped) rather than a delay (played late).
  let maxSkip = 0;
  for (let i = 1; i < clocked.length; i++) maxSkip = Math.max(maxSkip, clocked[i][2] - clocked[i - 1][2]);
  const presented = inWindow.length ? inWindow[inWindow.length - 1][1] - inWindow[0][1] + 1 : 0;
  const est = raw.estimates.filter(([t]) => t >= from && t <= to);
  const pick = (i) => est.map((e) => e[i]).filter((x) => typeof x === 'number');
  const stalls = raw.stalls.filter((s) => s.at >= from && s.at <= to);
  const levelOf = inWindow.length ? inWindow[inWindow.length - 1][4] : -1;
  return {
    glassToGlassMs: {
      p50: percentile(lat, 50),
      p95: percentile(lat, 95),
      max: lat.length ? lat[lat.length - 1] : null,
      min: lat.length ? lat[0] : null,
      samples: lat.length,
    },
    frames: {
      callbacks: inWindow.length, // requestVideoFrameCallback calls: frames put on screen
      presented, // the video element's own count over the same span
      decodedClock: clocked.length,
      distinct, // distinct frame counters read: frames that made it from canvas to screen
      unreadable: inWindow.length - clocked.length,
      expected: Math.round(((to - from) / 1000) * FPS),
      maxGapMs: maxGap, // the longest time between two frames shown
      maxSkipMs: maxSkip, // the largest capture-time step between two frames shown
    },
    stalls: {
      count: stalls.length,
      hls: stalls.filter((s) => s.kind === 'hls').length,
      waiting: stalls.filter((s) => s.kind === 'waiting').length,
      maxMs: stalls.reduce((m, s) => Math.max(m, s.ms ?? to - s.at), 0),
      list: stalls.map((s) => ({ kind: s.kind, atMs: s.at - from, ms: s.ms ?? `unresolved (${to - s.at}+)`, detail: s.detail, loads: s.loads })),
    },
    hlsLatencyS: { median: round(median(pick(1)), 3), target: round(median(pick(2)), 3) },
    pdtLatencyMs: round(median(pick(3))), // now minus hls.playingDate: PROGRAM-DATE-TIME's view
    resyncs: raw.resyncs.filter((r) => r.at <= to).map((r) => ({ atMs: r.at - from, fromS: r.fromS, jumpS: r.jumpS })),
    level: levelOf >= 0 ? { index: levelOf, ...raw.levels[levelOf] } : null,
    levels: raw.levels,
    levelSwitches: raw.levelSwitches.filter(([t]) => t >= from && t <= to).map(([t, l]) => ({ atMs: t - from, level: l })),
    audio: {
      tracks: raw.audio.tracks,
      appends: raw.audio.appends,
      bufferedS: raw.audio.bufferedEnd === null ? null : round(raw.audio.bufferedEnd - raw.audio.firstBufferedEnd, 2),
      decodedBytes: raw.audioDecodedBytes,
    },
    videoQuality: raw.quality,
    errors: raw.errors.reduce((m, d) => ({ ...m, [d]: (m[d] ?? 0) + 1 }), {}),
    errorNotes: raw.errorNotes,
  };
}

// alertsOnFrame matches each fired alert with the event the player showed (by its text) and
// counts how far the frame shown is from the frame the event's mediaTime names: offFrames in
// frames the publisher drew, and offSeenFrames (judged) in frames the page was handed
// (requestVideoFrameCallback, seen): a frame the browser never handed over, on a loaded
// machine, could not carry the event, and the next one is as close as a player can show
// it; an event shown two frames late with the frame between never handed over is on time.
// It also reports how far the event's frame is behind the one the host had drawn when it
// fired (stampLagFrames: the stamping, not judged).
function alertsOnFrame(fired, events, drawn, replies, seen) {
  const mod = 2 ** CLOCK.frameBits;
  const diff = (a, b) => ((((a - b) % mod) + mod + mod / 2) % mod) - mod / 2; // a - b, across the counter's wrap
  // The frame captured at time ms: the last drawing at or before it (1 ms of slack for the
  // capture clock's rounding).
  const frameAt = (ms) => {
    let best = null;
    for (const [at, f] of drawn) if (at <= ms + 1) best = f;
    return best;
  };
  const list = fired.map((a) => {
    const e = events.find((ev) => ev.type === 'alert' && ev.text === a.text);
    const reply = replies.find((r) => r.id === a.id && r.type !== 'ack');
    if (!e) return { text: a.text, shown: false, reply: reply ?? null };
    const eventFrame = frameAt(e.mediaTime);
    const off = eventFrame === null || e.shownFrame === null ? null : diff(e.shownFrame, eventFrame);
    // The frames seen from the event's frame up to the one shown (or from the one shown up
    // to the event's, shown early).
    let offSeen = null;
    if (off !== null) {
      offSeen = 0;
      for (const f of seen) {
        const d = diff(f, eventFrame);
        if ((off >= 0 && d >= 0 && d < off) || (off < 0 && d >= off && d < 0)) offSeen++;
      }
      if (off < 0) offSeen = -offSeen;
    }
    return {
      text: a.text,
      shown: true,
      late: e.late,
      mediaTime: e.mediaTime,
      eventFrame,
      shownFrame: e.shownFrame,
      offFrames: off,
      offSeenFrames: offSeen,
      stampLagFrames: eventFrame === null ? null : diff(a.drawnFrame, eventFrame),
      stampLagMs: a.drawnMs - e.mediaTime,
      cueVsFrameMs: Math.round((e.frameMediaTimeS - e.cueStartS) * 1000),
      shownAfterFireMs: e.shownAt - a.firedAt,
    };
  });
  const offs = list.filter((a) => a.offFrames !== null && a.offFrames !== undefined).map((a) => Math.abs(a.offFrames));
  const seenOffs = list.filter((a) => a.offSeenFrames !== null && a.offSeenFrames !== undefined).map((a) => Math.abs(a.offSeenFrames));
  return {
    fired: fired.length,
    shown: list.filter((a) => a.shown).length,
    maxOffFrames: offs.length ? Math.max(...offs) : null,
    maxOffSeenFrames: seenOffs.length ? Math.max(...seenOffs) : null,
    list,
  };
}

// judge throws the first reason the run fails; latency itself is never judged.
function judge(f, audioBefore) {
  const want = Math.ceil(opts.seconds * FPS * MIN_FRAME_RATIO);
  if (opts.source === 'whip') {
    if (f.frames.decodedClock === 0) {
      throw new Error(`the pixel clock could not be read from any of ${f.frames.callbacks} frames shown`);
    }
    if (f.frames.distinct < want) {
      throw new Error(`only ${f.frames.distinct} frames decoded with a readable clock in ${opts.seconds} s, want at least ${want}`);
    }
  } else if (f.frames.callbacks < want) {
    throw new Error(`only ${f.frames.callbacks} frames shown in ${opts.seconds} s, want at least ${want}`);
  }
  if (opts.maxStallMs !== null && f.stalls.maxMs > opts.maxStallMs) {
    const worst = f.stalls.list.reduce((a, b) => (Number(b.ms) > Number(a.ms) ? b : a), f.stalls.list[0]);
    throw new Error(`stalled ${f.stalls.maxMs} ms (${worst?.kind} at ${worst?.atMs} ms), more than --max-stall-ms ${opts.maxStallMs}`);
  }
  if (f.audio.tracks < 1) throw new Error('hls.js found no audio track in the multivariant playlist');
  if (!(f.audio.bufferedS >= opts.seconds / 2)) {
    throw new Error(`the audio buffer advanced only ${f.audio.bufferedS} s in ${opts.seconds} s`);
  }
  if (!(f.audio.decodedBytes > audioBefore)) throw new Error(`no audio decoded (webkitAudioDecodedByteCount ${audioBefore} → ${f.audio.decodedBytes})`);
  if (f.alerts) {
    const a = f.alerts;
    const missing = a.list.find((x) => !x.shown);
    if (missing) throw new Error(`${missing.text}: never shown by the player (server's reply: ${JSON.stringify(missing.reply)})`);
    const unread = a.list.find((x) => x.offFrames === null);
    if (unread) throw new Error(`${unread.text}: shown on a frame whose clock could not be read, or before the first frame drawn`);
    const off = a.list.find((x) => Math.abs(x.offSeenFrames) > 1);
    if (off) {
      throw new Error(
        `${off.text}: shown on frame ${off.shownFrame}, ${off.offSeenFrames} frames the page was handed from its frame ${off.eventFrame} (${off.offFrames} drawn; want within 1)`,
      );
    }
  }
}

const publish = new Side('publish');
const play = new Side('play');
let figures = null;
const progress = [];
const debugLog = [];
let windowStart = 0;

const readRaw = () =>
  play.eval(() => {
    const v = document.getElementById('video');
    const q = v.getVideoPlaybackQuality();
    return {
      ...window.hlsStats,
      audioDecodedBytes: v.webkitAudioDecodedByteCount ?? null,
      quality: { total: q.totalVideoFrames, dropped: q.droppedVideoFrames },
      visibility: document.visibilityState,
    };
  });

async function waitFirstFrame() {
  const deadline = Date.now() + FIRST_FRAME_MS;
  for (;;) {
    const s = await play.eval(() => ({ first: window.hlsStats?.firstFrameAt ?? null, g: window.glint, fatal: window.hlsStats?.fatal }));
    if (s.g?.state === 'failed') throw new Error(`player failed before its first frame: ${s.g.error}`);
    if (s.first !== null) return s.first;
    if (Date.now() > deadline) {
      throw new Error(`hls.js player showed no frame within ${FIRST_FRAME_MS / 1000} s (state ${s.g?.state})`);
    }
    await sleep(250);
  }
}

run({
  name: 'hls_latency',
  overallMs: OVERALL_MS,
  sides: opts.source === 'whip' ? [publish, play] : [play],
  async test(browser) {
    const files = {
      'publish.html': { type: 'text/html', body: publisherPage },
      'play.html': { type: 'text/html', body: playerPage },
      'hls.min.js': { type: 'text/javascript', body: hlsJs },
    };
    const playOrigin = opts.hlsUrl ? new URL(opts.hlsUrl).origin : opts.server;
    if (opts.source === 'whip') {
      await publish.open(browser, `${opts.server}${PAGE_PREFIX}/publish.html`, serve(files));
      await publish.waitLive();
    }
    const opened = Date.now();
    await play.open(browser, `${playOrigin}${PAGE_PREFIX}/play.html`, async (context) => {
      await serve(files, playOrigin)(context);
      // --hls-debug: hls.js's own log, kept for the seconds around each stall.
      if (opts.hlsDebug) context.on('console', (m) => debugLog.push([Date.now(), m.text().slice(0, 400)]));
    });
    const first = await waitFirstFrame();
    const audioBefore = (await readRaw()).audioDecodedBytes ?? 0;
    const from = Date.now();
    windowStart = from;
    const to = from + opts.seconds * 1000;
    const fired = [];
    while (Date.now() < to) {
      await sleep(Math.min(POLL_MS, to - Date.now()));
      // --alerts: one at 1 s, 3 s, 5 s, … into the window
      const sec = Math.round((Date.now() - from) / 1000);
      if (fired.length < opts.alerts && sec >= 1 + 2 * fired.length) {
        fired.push(await publish.eval((text) => window.glintFireAlert(text), `alert ${fired.length + 1} of ${opts.alerts}`));
      }
      const g = await play.glint();
      if (g?.state === 'failed') throw new Error(`player failed: ${g.error}`);
      const p = await play.eval(() => {
        const s = window.hlsStats;
        const f = s.frames[s.frames.length - 1];
        return { t: Date.now(), frames: s.frames.length, lastLatency: f && f[2] !== null ? f[0] - f[2] : null, stalls: s.stalls.length, level: f?.[4] };
      });
      progress.push({ ...p, t: p.t - from });
    }
    const raw = await readRaw();
    const sent = opts.source === 'whip' ? await publish.eval(() => window.glintPublishStats()).catch((e) => ({ error: e.message })) : null;
    figures = { startupMs: first - opened, visibility: raw.visibility, ...summarize(raw, from, to), publisher: sent };
    if (opts.alerts) {
      const host = await publish.eval(() => ({ drawn: window.glintDrawn, replies: window.glintAlertReplies }));
      const seen = new Set(raw.frames.map(([, , , f]) => f).filter((f) => f !== null));
      figures.alerts = alertsOnFrame(fired, raw.events, host.drawn, host.replies, seen);
    }
    judge(figures, audioBefore);
  },
  result: (states, elapsedMs) => ({
    server: opts.server,
    ...(opts.whipUrl ? { whipUrl: opts.whipUrl } : {}),
    ...(opts.hlsUrl ? { hlsUrl: opts.hlsUrl } : {}),
    videoCodec: opts.videoCodec,
    room: opts.room,
    source: opts.source,
    seconds: opts.seconds,
    hlsjs: hlsVersion,
    hlsConfig: opts.hlsConfig,
    resyncS: opts.resyncS,
    elapsedMs,
    ...figures,
    states,
    console: { publish: publish.console, play: play.console },
    progress,
    ...(opts.hlsDebug && figures
      ? {
          hlsLogStart: debugLog.slice(0, 400).map(([t, line]) => `${t - debugLog[0][0]} ${line}`),
          hlsLogAroundStalls: figures.stalls.list.map((st) => {
            const at = windowStart + st.atMs;
            const end = at + (Number(st.ms) || 0);
            return debugLog.filter(([t]) => t >= at - 3000 && t <= end + 300).map(([t, line]) => `${t - at} ${line}`);
          }),
        }
      : {}),
  }),
  failNotes: () => (figures ? [`  figures: ${JSON.stringify({ g2g: figures.glassToGlassMs, frames: figures.frames, stalls: figures.stalls, alerts: figures.alerts })}`] : []),
});
