package main

import (
	"fmt"
	"testing"
	"time"
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
// Known issue (open, see the hls-browser report): about once every 20-40 s of playback hls.js
// stops requesting parts for 1.3-2 s while Glint keeps answering its blocking playlist
// reloads at once, and resumes at the next segment's independent part: a stall of ~1.4 s.
// Like TestBrowserSimulcast's flake, the script runs a second time when the first fails and
// both outputs are logged, so a stall that repeats still fails the test.
func TestBrowserLLHLS(t *testing.T) {
	runBrowserScript(t, "e2e/hls_latency.mjs", nil, "--seconds", "15", "--max-stall-ms", "1000")
}

// TestBrowserLLHLSFromRTMP: an RTMP host (ffmpeg: testsrc2 720p with B-frames and a sine
// tone in AAC) goes through the ffmpeg ladder, and hls.js in headless Chromium plays the
// room's LL-HLS: its video keeps coming, and its audio rendition (the ladder's Opus) is in
// the multivariant playlist, is buffered for the whole window and is decoded
// (webclient/e2e/hls_latency.mjs --source none: no pixel clock to read, so no latency).
func TestBrowserLLHLSFromRTMP(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	runBrowserScript(t, "e2e/hls_latency.mjs", func(a *app, room string) []string {
		if a.rtmp == nil || a.rtmp.Addr() == nil {
			t.Fatal("RTMP ingest is not running")
		}
		url := fmt.Sprintf("rtmp://%s/%s/%s", a.rtmp.Addr(), a.cfg.RTMP.App, mustToken(t, a.cfg, room))
		startRTMPHost(t, url, 45*time.Second)
		// The stream starts on the player's first request, which needs the host on the stage.
		deadline := time.Now().Add(20 * time.Second)
		for r := a.sfu.Room(room); r == nil || !r.Info().Publishing; r = a.sfu.Room(room) {
			if time.Now().After(deadline) {
				t.Fatalf("the RTMP host did not reach room %s within 20 s", room)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return []string{"--source", "none"}
	}, "--seconds", "10")
}
