// Package datachannel is Glint's interaction layer: chat, polls, Q&A, auctions, gifts and
// on-screen alerts, carried as versioned JSON envelopes over a WebRTC data channel (label
// [Label]) or a WebSocket, and stamped with the room's media clock so a client can show each
// event on the video frame it belongs to.
//
// The wire format is documented in docs/PROTOCOL.md. The rules live in pure state machines
// (datachannel/chat, /poll, /qna, /auction, /gift); this package decodes and checks what
// clients send, routes it to a room's state machines through a [Hub], makes money events
// durable on the bus (datachannel/bus) before acknowledging them, and fans events out to
// every connection through a bounded, non-blocking per-connection queue.
//
// datachannel never imports sfu: the room's media clock reaches it through [MediaClock].
package datachannel
