// Publish the camera and microphone to a Glint room over WHIP, with the SDK's Publisher
// (docs/SDK.md), which reconnects by itself and pauses simulcast layers nobody watches.
//
// Query: room, token (with canPublish), server (another Glint server; the SDK is loaded
// from it), servers (more nodes of the cluster to fail over to, comma-separated),
// simulcast=1 sends the video as three layers (rids q, h, f: quarter, half and full
// resolution), codec=vp8|h264 puts that codec first in the video codec preferences.
// window.glint (page.js) and window.glintPublishStats() are what tests read.
import { fail, glint, loadSDK, params, setState } from './page.js';

const p = params();
const button = document.getElementById('stop');
document.getElementById('room').textContent = p.room;
const CODECS = ['vp8', 'h264'];
const RIDS = ['q', 'h', 'f'];

function options() {
  const simulcast = p.q.get('simulcast');
  if (simulcast !== null && simulcast !== '0' && simulcast !== '1') {
    throw new Error(`simulcast=${simulcast}: use simulcast=1 (or leave it out)`);
  }
  const codec = p.q.get('codec')?.toLowerCase() || undefined;
  if (codec && !CODECS.includes(codec)) throw new Error(`codec=${codec}: use one of ${CODECS.join(', ')}`);
  return { simulcast: simulcast === '1', codec };
}

// glintPublishStats lists the video outbound-rtp streams, one per simulcast layer (rid null
// without simulcast), lowest first, for tests to see what is being sent.
window.glintPublishStats = async () => {
  if (!glint.pc) return [];
  const report = await glint.pc.getStats();
  const out = [];
  report.forEach((s) => {
    if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
    out.push({
      rid: s.rid ?? null,
      active: s.active ?? null,
      codec: report.get(s.codecId)?.mimeType ?? null,
      frameWidth: s.frameWidth ?? 0,
      frameHeight: s.frameHeight ?? 0,
      bytesSent: s.bytesSent ?? 0,
      qualityLimitationReason: s.qualityLimitationReason ?? null,
    });
  });
  return out.sort((a, b) => RIDS.indexOf(a.rid) - RIDS.indexOf(b.rid));
};

async function main() {
  const opt = options();
  const { Publisher } = await loadSDK(p);
  const publisher = new Publisher({
    server: p.server,
    servers: p.servers,
    room: p.room,
    token: p.token,
    ...opt,
    preview: document.getElementById('preview'),
  });
  Object.defineProperty(glint, 'pc', { get: () => publisher.pc, enumerable: true });
  Object.defineProperty(glint, 'server', { get: () => publisher.server, enumerable: true });
  publisher.on('failover', ({ to, error }) => (glint.failovers = [...(glint.failovers ?? []), { t: Date.now(), to, error: error.message }]));
  publisher.on('state', (s) => {
    if (s === 'live') setState('live');
    else if (s === 'stopped') setState('closed');
    else if (s === 'reconnecting') setState('connecting', 'connection lost, reconnecting');
  });
  publisher.on('error', fail);
  setState('connecting', 'asking for camera and microphone');
  await publisher.start();
  button.disabled = false;
  button.onclick = () => {
    publisher.stop();
    button.textContent = 'Publish again';
    button.onclick = () => location.reload();
  };
}

main().catch(fail);
