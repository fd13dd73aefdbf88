// Play a Glint room over WHEP.
import { connect, fail, glint, params } from './whip.js';

const p = params();
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
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    video.srcObject = stream;
  };
  const stop = await connect(pc, 'whep', p);
  button.disabled = false;
  button.onclick = () => {
    stop();
    button.textContent = 'Play again';
    button.onclick = () => location.reload();
  };
}

main().catch(fail);
