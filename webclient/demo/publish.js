// Publish the camera and microphone to a Glint room over WHIP.
import { connect, fail, params, setState } from './whip.js';

const p = params();
const button = document.getElementById('stop');
document.getElementById('room').textContent = p.room;

async function main() {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error('camera access needs a secure context: open this page over https or from localhost');
  }
  setState('connecting', 'asking for camera and microphone');
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 1280, height: 720 }, audio: true });
  document.getElementById('preview').srcObject = stream;

  const pc = new RTCPeerConnection();
  for (const track of stream.getTracks()) {
    pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
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
