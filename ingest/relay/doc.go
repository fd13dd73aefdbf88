// Package relay pulls a room from its origin node over standard WebRTC into this node's
// hub, so that on a cluster of Glint nodes (docs/CLUSTER.md) a viewer on any node watches
// a host who publishes to another.
//
// Each node announces the rooms whose host publishes to it in the room directory (a KV
// bucket on the cluster's NATS whose entries expire unless refreshed, so a node that dies
// drops out). A WHEP viewer asking a node for a room it does not host makes the node pull
// the room: it becomes a WHEP viewer of the origin (one connection per room per node,
// with NACK, receiver reports and congestion feedback upstream, and PLIs passed through)
// and puts the tracks on the room's stage as its host, as an RTMP ingest does; every
// local viewer, LL-HLS included, is served from there. A relay stops when the room has no
// viewer on the node for a while, when the origin ends it or moves, or when a host
// publishes to this node. Rooms whose host is a relay are never announced, a node never
// pulls from itself, and a relay's own request starts no relay at the origin
// (signaling.RelayIdentityPrefix), so a relay never feeds another relay.
package relay
