// Package loadtest is the load generator behind `glint loadtest`. It talks to a server only
// over the wire (standard WHIP, WHEP and LL-HLS), so the same run measures Glint or any peer
// server.
//
// The fanout test publishes one real H.264 + Opus stream and attaches N viewers in ramp
// steps. Every access unit carries its send time in an SEI user-data NAL, so each viewer
// measures one-way frame latency on the shared machine clock, to the kernel's receive
// timestamp of the frame's last packet (arrival.go: the client's own queue is reported
// apart, as the read latency); viewers also measure join time,
// loss, freezes and throughput. With the server's PID it reads the server's CPU and memory
// from /proc, and it always reports its own CPU so a reader can tell when the client, not
// the server, was the limit. The other tests (chat, burst, hls) have a Run function of their
// own and reuse the histogram, /proc sampling (procstat.go) and report table.
//
// The hls test (HLS, `glint loadtest hls`) runs LL-HLS players of one room. Each viewer is a
// goroutine with an HTTP client (one shared HTTP/1.1 Transport) that does what hls.js does
// in low-latency mode: it loads {url}/hls/{room}/index.m3u8 (?access_token= when given, then
// whatever query the server writes into its URIs), picks the highest-BANDWIDTH variant (or
// the variant in folder q, h or f), loads its media playlist and init section and, unless
// told not to, its AUDIO rendition's; it starts at the last independent part, as a player
// joining the live edge does (those parts are downloaded, not timed), then loops: GET the
// EXT-X-PRELOAD-HINT part, which the server answers when the part is complete, and at the
// same time the blocking reload with _HLS_msn/_HLS_part for that part; then download every
// listed part it does not have, once. 503/429 wait Retry-After; 400, 404 and 5xx reload the
// playlist plainly; a timeout retries. Every request is bounded (--request-timeout) and every
// loop ends with the run. The parts are fMP4 (gohlslib's playlist parser, mediacommon's
// fmp4.Parts); the H.264 samples (tracks named H.264 in the init section) are searched for
// the publisher's timing SEI, so the clocks of publisher and viewers must agree: run
// --publish on the same machine, or keep the machines' clocks in sync.
//
// Its report (HLSReport, a table and JSON), over the window after every viewer joined:
//   - frame_latency_ms: for every timed frame, the time the download of its part completed
//     minus the frame's send time (p50/p95/p99/max); part_first_frame_latency_ms: the same
//     for each part's first, oldest frame, the one that waited longest for its part to fill;
//   - stalls, stall_s, stall_max_ms: a stall is a gap of more than 3 × PART-TARGET between
//     two new video parts a viewer downloaded (or from its last part to the end), its time
//     the whole gap; the rule is repeated in the report (stall_rule);
//   - http_errors: failed requests over the whole run, joins included, by kind and status
//     ("multivariant 404", "playlist 400", "part 503", "part timeout", "init network");
//   - requests and requests_per_s, bytes, mbps and bytes_per_viewer_per_s: every response,
//     playlists, init sections, video and audio parts, bytes as they came over the wire
//     (playlists gzipped; before 2026-12-08 they were counted decompressed);
//   - client_cpu_percent and client_limited (above 90 % of the client's CPUs: the figures
//     describe the client too), and with --server-pid the server's CPU, CPU per viewer (%
//     of one core), RSS, peak RSS (sampled every 100 ms) and RSS growth per viewer.
package loadtest
