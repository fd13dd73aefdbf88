// Package llhls serves every live room as Low-Latency HLS: the outbound adapter for
// audiences too large for WebRTC, a reader of the hub like a WebRTC viewer.
//
// A room's stream starts on its first HTTP request and subscribes to the room's stage
// Tracks as an sfu.MediaReader (a bounded queue: it never slows the publisher or the WebRTC
// viewers). One goroutine per stream turns RTP into access units and feeds one gohlslib
// Muxer per simulcast layer (each layer a variant with its own audio rendition, so a player
// does ABR). Every variant is put on one timeline: the room's media clock, so
// EXT-X-PROGRAM-DATE-TIME is the capture time of the frame, the same clock interaction
// events carry as mediaTime.
//
// Playlists are rendered once per change into an immutable snapshot; every HTTP request is
// answered from snapshots and a cache of finished parts, so N identical blocking requests
// cost the muxer nothing. See docs/PROTOCOL.md ("LL-HLS") for the URLs and what a player
// and a CDN can rely on.
package llhls
