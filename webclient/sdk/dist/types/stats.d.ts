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
    frameEvents: {
        shown: number;
        late: number;
        skipped: number;
        expired: number;
    };
}
interface Prev {
    bytes: number;
    at: number;
}
/** webrtcStats reads a viewer connection's inbound video (the layer that decodes most). */
export declare function webrtcStats(pc: RTCPeerConnection, prev: Prev | undefined): Promise<{
    stats: Omit<PlayerStats, 'frameEvents'>;
    prev: Prev;
}>;
export {};
