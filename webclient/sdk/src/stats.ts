// What a player reports every second: enough to draw a quality badge and to debug a viewer.

export interface PlayerStats {
  mode: 'webrtc' | 'hls';
  width: number;
  height: number;
  framesPerSecond: number;
  framesDecoded: number;
  framesDropped: number;
  freezeCount: number;
  /** Received video bitrate, kbit/s. */
  bitrateKbps: number;
  packetsLost: number;
  jitterMs: number;
  /** WebRTC: the round trip to the server; LL-HLS: none. */
  rttMs?: number;
  /** LL-HLS: how far behind the live edge the player is, ms. */
  hlsLatencyMs?: number;
  /** On LL-HLS: jumps to the live edge so far (PlayerOptions.hlsResyncS). */
  hlsResyncs?: number;
  /** Events shown, of them late, shown past a skipped frame, and released without a frame. */
  frameEvents: { shown: number; late: number; skipped: number; expired: number };
}

interface Prev {
  bytes: number;
  at: number;
}

/** webrtcStats reads a viewer connection's inbound video (the layer that decodes most). */
export async function webrtcStats(pc: RTCPeerConnection, prev: Prev | undefined): Promise<{ stats: Omit<PlayerStats, 'frameEvents'>; prev: Prev }> {
  const report = await pc.getStats();
  const s: Omit<PlayerStats, 'frameEvents'> = {
    mode: 'webrtc',
    width: 0,
    height: 0,
    framesPerSecond: 0,
    framesDecoded: 0,
    framesDropped: 0,
    freezeCount: 0,
    bitrateKbps: 0,
    packetsLost: 0,
    jitterMs: 0,
  };
  let bytes = 0;
  report.forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video' && (r.framesDecoded ?? 0) >= s.framesDecoded) {
      s.width = r.frameWidth ?? 0;
      s.height = r.frameHeight ?? 0;
      s.framesPerSecond = r.framesPerSecond ?? 0;
      s.framesDecoded = r.framesDecoded ?? 0;
      s.framesDropped = r.framesDropped ?? 0;
      s.freezeCount = r.freezeCount ?? 0;
      s.packetsLost = r.packetsLost ?? 0;
      s.jitterMs = (r.jitter ?? 0) * 1000;
      bytes = r.bytesReceived ?? 0;
    } else if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded' && r.currentRoundTripTime !== undefined) {
      s.rttMs = r.currentRoundTripTime * 1000;
    }
  });
  const at = performance.now();
  if (prev && at > prev.at && bytes >= prev.bytes) s.bitrateKbps = ((bytes - prev.bytes) * 8) / (at - prev.at);
  return { stats: s, prev: { bytes, at } };
}
