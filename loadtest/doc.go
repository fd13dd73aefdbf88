// Package loadtest is the load generator behind `glint loadtest`. It talks to a server only
// over the wire (standard WHIP and WHEP), so the same run measures Glint or any peer server.
//
// The fanout test publishes one real H.264 + Opus stream and attaches N viewers in ramp
// steps. Every access unit carries its send time in an SEI user-data NAL, so each viewer
// measures one-way frame latency on the shared machine clock; viewers also measure join time,
// loss, freezes and throughput. With the server's PID it reads the server's CPU and memory
// from /proc, and it always reports its own CPU so a reader can tell when the client, not
// the server, was the limit. Later tests (LL-HLS, chat) add a Run function of their own and
// reuse the histogram, /proc sampling and report table.
package loadtest
