// Publish the camera and microphone to a Glint room over WHIP.
//
// Optional query parameters: simulcast=1 sends the video as three layers (rids
// q, h, f: quarter, half and full resolution); codec=vp8|h264 puts that codec
// first in the video codec preferences.
import { connect, fail, glint, params, setState } from './whip.js';

const p = params();
const q = new URLSearchParams(location.search);
const button = document.getElementById('stop');
document.getElementById('room').textContent = p.room;

// The simulcast layers, lowest first; the server picks one per viewer by rid.
const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', maxBitrate: 1_500_000 },
];
const CODECS = ['vp8', 'h264'];

// glintPublishStats lists the video outbound-rtp streams, one per simulcast
// layer (rid null without simulcast), for tests to see what is being sent.
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
  const rank = (rid) => SIMULCAST.findIndex((e) => e.rid === rid);
  return out.sort((a, b) => rank(a.rid) - rank(b.rid));
};

function options() {
  const simulcast = q.get('simulcast');
  if (simulcast !== null && simulcast !== '0' && simulcast !== '1') {
    throw new Error(`simulcast=${simulcast}: use simulcast=1 (or leave it out)`);
  }
  const codec = q.get('codec')?.toLowerCase() || null;
  if (codec && !CODECS.includes(codec)) throw new Error(`codec=${codec}: use one of ${CODECS.join(', ')}`);
  return { simulcast: simulcast === '1', codec };
}

// preferCodec puts every variant of codec (all H.264 profiles, say) first in
// the transceiver's codec list and keeps the rest, RTX and FEC included, after.
function preferCodec(transceiver, codec) {
  const mimeType = `video/${codec}`;
  const codecs = RTCRtpSender.getCapabilities?.('video')?.codecs ?? [];
  const first = codecs.filter((c) => c.mimeType.toLowerCase() === mimeType);
  if (!first.length) throw new Error(`this browser cannot send ${codec.toUpperCase()}`);
  if (!transceiver.setCodecPreferences) throw new Error('this browser cannot choose codecs (no setCodecPreferences)');
  transceiver.setCodecPreferences([...first, ...codecs.filter((c) => c.mimeType.toLowerCase() !== mimeType)]);
}

async function main() {
  const opt = options();
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error('camera access needs a secure context: open this page over https or from localhost');
  }
  setState('connecting', 'asking for camera and microphone');
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true });
  document.getElementById('preview').srcObject = stream;

  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) {
    const init = { direction: 'sendonly', streams: [stream] };
    if (track.kind === 'video' && opt.simulcast) init.sendEncodings = SIMULCAST.map((e) => ({ ...e }));
    const transceiver = pc.addTransceiver(track, init);
    if (track.kind === 'video' && opt.codec) preferCodec(transceiver, opt.codec);
  }
  const stop = await connect(pc, 'whip', p);
  button.disabled = false;
  button.onclick = () => {
    stop();
    stream.getTracks().forEach((t) => t.stop());
    button.textContent = 'Publish again';
    button.onclick = () => location.reload();
  };
}

main().catch(fail);
