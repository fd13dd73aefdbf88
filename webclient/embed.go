// Package webclient holds Glint's browser side: the JS/TS SDK, the pages built on it and
// the bare demo pages.
package webclient

import "embed"

// Demo holds the bare demo pages the server serves at /demo/: publish.html (WHIP from the
// camera), play.html (WHEP playback), auction.html (WHEP and bidding over the data
// channel), directory.html (the live rooms by category) and index.html linking them. They
// are thin pages on the SDK, which they import from /sdk/glint.js (or from ?server='s).
// Paths inside it start with "demo/"; serve it with fs.Sub(Demo, "demo").
//
//go:embed demo
var Demo embed.FS

// Pages holds the pages built on the SDK, served at the root: index.html, watch.html (a
// viewer's page: video, chat, Q&A, polls, auction, gifts, alerts on their frame) and
// studio.html (the host's). Paths start with "pages/".
//
//go:embed pages
var Pages embed.FS

// SDK holds the built SDK, served at /sdk/: glint.js, hls.min.mjs (loaded only when a player
// falls back to LL-HLS) and types/. Built from sdk/src by sdk/build.mjs; paths start with
// "sdk/dist/".
//
//go:embed sdk/dist
var SDK embed.FS
