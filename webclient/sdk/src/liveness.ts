// A link to the server that breaks without a close (a node killed, cut off or hung) is
// known by its silence. Every link the SDK holds is watched the same way.
import type { Interaction } from './interaction.js';

// PING_MS is how often a link is checked; one quiet for a third of deadAfterMs is pinged
// (the server answers), so a pong has two ticks to come.
const PING_MS = 1000;

// watchLink watches a link by what arrives from the server over interaction: quiet for a
// third of deadAfterMs, it is pinged (one ping at a time); quiet for deadAfterMs, dead is
// called, once. A late tick (a throttled background tab) proves nothing about the link:
// it pings and looks again at the next one. While open() is false (a channel not open
// yet) the link is not judged. It returns the function that stops watching.
export function watchLink(interaction: Interaction, deadAfterMs: number, open: () => boolean, dead: () => void): () => void {
  let lastTick = performance.now();
  let pinging = false;
  let over = false;
  const stop = () => {
    over = true;
    clearInterval(timer);
  };
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - lastTick > 2 * PING_MS;
    lastTick = now;
    if (over || !open()) return;
    const quiet = now - interaction.lastReceived;
    if (quiet > deadAfterMs && !late) {
      stop();
      dead();
    } else if (quiet > deadAfterMs / 3 && !pinging) {
      pinging = true;
      interaction
        .ping()
        .catch(() => {})
        .finally(() => (pinging = false));
    }
  }, PING_MS);
  return stop;
}
