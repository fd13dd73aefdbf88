// Package simulcast holds the pure logic a DownTrack needs to splice several RTP sources into
// one continuous outgoing stream: keyframe detection per codec, the sequence-number and
// timestamp munger, and the VP8 payload-descriptor munger (picture ID, TL0PICIDX, KEYIDX). It does no I/O and allocates nothing per packet, so it is table-tested and
// fuzzed in isolation and reused by every forwarding path (WebRTC viewers, relays).
package simulcast
