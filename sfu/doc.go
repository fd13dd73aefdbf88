// Package sfu is Glint's selective forwarding unit: rooms, the Receiver that reads each
// published track, the DownTrack that forwards it to one viewer, the per-Receiver packet
// cache that answers viewers' NACKs, and the WebRTC plumbing (codecs, interceptors, one UDP
// port for every peer) shared by publishers and viewers. It has no HTTP and parses no SDP
// beyond what pion does, so it is usable as a library and tested with pion peers directly.
//
// A media packet takes three hops: Receiver.Run reads it from the publisher (collecting a
// frame's packets), Track.forwardBatch hands the frame to each DownTrack in a copy-on-write
// snapshot (in a large room, split by send lane over the engine's fan-out workers, one per
// core: fanpool.go), and DownTrack.writeBatch rewrites its header and writes it to the
// viewer's transport, whose socket queues a viewer's share of a frame and sends it in one
// UDP GSO write (batchconn.go).
package sfu
