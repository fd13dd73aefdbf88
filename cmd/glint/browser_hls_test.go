package main

import (
	"testing"
	"time"

	"github.com/glintlive/glint/signaling/auth"
)

// TestBrowserLLHLS: LL-HLS in a real browser. A headless Chromium page draws a pixel clock
// (the time and a frame counter as black and white blocks) on a canvas and publishes it with
// its fake microphone over WHIP (H.264); a second page plays /hls/{room}/index.m3u8 with
// hls.js in low-latency mode, reads the clock back from every frame it shows and measures
// glass-to-glass latency (webclient/e2e/hls_latency.mjs). It passes when the player plays,
// reads the clock from at least half the frames the window should have, buffers audio, and
// never stalls longer than a second. The latency figures are in the log (the script's JSON
// line), never asserted: this is a shared machine.
//
// Events on their frame: the host fires five alerts over the room's WebSocket; each must
// reach the player through the playlists (EXT-X-DATERANGE → an hls.js metadata cue) and be
// shown on the frame its mediaTime names, within one frame, read off the pixel clock.
//
// The script runs a second time when the first fails (as TestBrowserSimulcast does: the
// publisher's encoder and the player share two busy cores) and both outputs are logged, so
// a failure that repeats still fails the test.
func TestBrowserLLHLS(t *testing.T) {
	runBrowserScript(t, "e2e/hls_latency.mjs", func(a *app, room string) []string {
		admin, err := auth.Issue(a.cfg.APIKey, a.cfg.APISecret, auth.TokenOptions{Room: room, Identity: "host-admin", Admin: true, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return []string{"--alerts", "5", "--admin-token", admin}
	}, "--seconds", "15", "--max-stall-ms", "1000")
}

// TestBrowserLLHLSFromRTMP: an RTMP host (ffmpeg: testsrc2 720p with B-frames and a sine
// tone in AAC) goes through the ffmpeg ladder, and hls.js in headless Chromium plays the
// room's LL-HLS: its video keeps coming, and its audio rendition (the host's own 44.1 kHz
// AAC, untouched) is in the multivariant playlist, is buffered for the whole window and is
// decoded
// (webclient/e2e/hls_latency.mjs --source none: no pixel clock to read, so no latency).
func TestBrowserLLHLSFromRTMP(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	runBrowserScript(t, "e2e/hls_latency.mjs", func(a *app, room string) []string {
		// The stream starts on the player's first request, which needs the host on the stage.
		rtmpHostOnStage(t, a, room)
		return []string{"--source", "none"}
	}, "--seconds", "10")
}

// TestBrowserLLHLSFromVP8: a browser host that sends VP8 (Chromium's default) is played
// from LL-HLS too: Glint transcodes the host's video to H.264 with ffmpeg while the room's
// LL-HLS is watched, and the player reads the pixel clock off the transcoded frames (so
// they kept their capture time) with the host's audio, without a stall over a second.
func TestBrowserLLHLSFromVP8(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	runBrowserScript(t, "e2e/hls_latency.mjs", nil, "--seconds", "10", "--max-stall-ms", "1000", "--video-codec", "vp8")
}
