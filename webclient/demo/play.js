// Play a Glint room over WHEP, with the SDK's Player (docs/SDK.md), which reconnects by
// itself and waits for a host that has not started yet. WebRTC only: the watch page at /
// shows the LL-HLS fallback.
//
// Query: room, token (where anonymous viewing is off), server (another Glint server; the
// SDK is loaded from it), layer=q|h|f caps the simulcast layer (quarter, half or full
// resolution) of a simulcast publisher; without it the server picks the layer.
// window.glint (page.js) and window.glintStats() are what tests read.
import { fail, glint, loadSDK, params, watchPlayer } from './page.js';

const p = params();
const LAYERS = ['q', 'h', 'f'];
const button = document.getElementById('stop');
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
  const layer = p.q.get('layer');
  if (layer !== null && !LAYERS.includes(layer)) throw new Error(`layer=${layer}: use one of ${LAYERS.join(', ')}`);
  const { Player } = await loadSDK(p);
  const player = new Player({
    server: p.server,
    room: p.room,
    token: p.token,
    video: document.getElementById('remote'),
    layer: layer ?? undefined,
    fallback: 'never',
  });
  watchPlayer(player);
  await player.play();
  button.disabled = false;
  button.onclick = () => {
    player.close();
    button.textContent = 'Play again';
    button.onclick = () => location.reload();
  };
}

main().catch(fail);
