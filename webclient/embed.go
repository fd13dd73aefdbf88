// Package webclient holds Glint's browser side: the JS SDK and the demo pages.
package webclient

import "embed"

// Demo holds the demo pages the server serves at /demo/: publish.html (WHIP
// from the camera), play.html (WHEP playback), directory.html (the live rooms by
// category) and index.html linking them.
// Paths inside it start with "demo/"; serve it with fs.Sub(Demo, "demo").
//
//go:embed demo
var Demo embed.FS
