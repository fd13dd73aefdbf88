// Play a Glint room over WHEP.
//
// Optional query parameter: layer=q|h|f asks the server for that simulcast
// layer (quarter, half or full resolution) of a simulcast publisher, sent on
// as ?layer= on the WHEP URL; without it the server picks the layer.
import { connect, fail, glint, params } from './whip.js';

const p = params();
const LAYERS = ['q', 'h', 'f'];
const button = document.getElementById('stop');
const video = document.getElementById('remote');
document.getElementById('room').textContent = p.room;

// glintStats sums up the inbound-rtp stats tests check: is video decoding, is audio arriving.
window.glintStats = async () => {
  const out = {
    video: { frameWidth: 0, frameHeight: 0, framesDecoded: 0, packetsReceived: 0 },
    audio: { packetsReceived: 0 },
  };
  if (!glint.pc) return out;
  (await glint.pc.getStats()).forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    if (s.kind === 'audio') {
      out.audio.packetsReceived += s.packetsReceived ?? 0;
    } else if (s.kind === 'video' && (s.framesDecoded ?? 0) >= out.video.framesDecoded) {
      out.video = {
        frameWidth: s.frameWidth ?? 0,
        frameHeight: s.frameHeight ?? 0,
        framesDecoded: s.framesDecoded ?? 0,
        packetsReceived: s.packetsReceived ?? 0,
      };
    }
  });
  return out;
};

async function main() {
  const layer = new URLSearchParams(location.search).get('layer');
  if (layer !== null && !LAYERS.includes(layer)) throw new Error(`layer=${layer}: use one of ${LAYERS.join(', ')}`);
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    video.srcObject = stream;
  };
  const stop = await connect(pc, 'whep', layer ? { ...p, query: new URLSearchParams({ layer }) } : p);
  button.disabled = false;
  button.onclick = () => {
    stop();
    button.textContent = 'Play again';
    button.onclick = () => location.reload();
  };
}

main().catch(fail);
