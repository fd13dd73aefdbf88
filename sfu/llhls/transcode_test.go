package llhls

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestVP8Transcoded: a host that sends VP8 (a browser's default) is served as LL-HLS
// through ffmpeg: one H.264 variant at the host's resolution, with the host's audio, whose
// playlists hold what players rely on (TestPlaylistStable's checks, for a few seconds),
// whose PROGRAM-DATE-TIME is the host's capture clock (each transcoded frame found its RTP
// timestamp again), and whose ffmpeg ends with the stream, IdleTimeout after the last
// request, leaving nothing running.
func TestVP8Transcoded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.FFmpeg = requireFFmpeg(t)
	cfg.IdleTimeout = time.Second
	s := testSFU(t)
	startHost(t, s, "vp8live", hostOptions{clips: []clipSpec{clipH}, audio: true, vp8Clips: true, keysOnRequest: true})
	to := startOrigin(t, s, cfg, nil, nil)
	before := goleak.IgnoreCurrent() // the SFU, the host, the origin's reaper, the server
	mv := to.waitLive(t, "vp8live", "")
	if len(mv.Variants) != 1 {
		t.Fatalf("%d variants, want the top layer's one", len(mv.Variants))
	}
	v := mv.Variants[0]
	if !strings.HasPrefix(v.Codecs[0], "avc1.") || v.Resolution != "640x360" {
		t.Fatalf("variant CODECS %v RESOLUTION %s, want avc1 at 640x360", v.Codecs, v.Resolution)
	}
	if got := transcodersRunning.Load(); got != 2 {
		t.Fatalf("%v transcoders running, want 2 (VP8 to H.264, Opus to AAC)", got)
	}

	for _, c := range runStabilityChecks(to, "vp8live", mediaURIs(mv), 4*time.Second) {
		c.report(t)
		if c.parts < 10 {
			t.Errorf("%s: %d parts in 4 s", c.uri, c.parts)
		}
	}
	pl, _ := to.mediaPlaylist(t, "vp8live", v.URI)
	last := pl.Segments[len(pl.Segments)-1]
	if last.DateTime == nil {
		t.Fatal("no PROGRAM-DATE-TIME on the last segment")
	}
	// The host's capture clock is this machine's: the newest segment began a moment ago.
	if age := time.Since(*last.DateTime); age < 0 || age > 5*time.Second {
		t.Fatalf("the newest segment's PROGRAM-DATE-TIME is %v from now: the transcoded frames lost their capture time", age)
	}

	to.c.CloseIdleConnections()
	quiet := time.Now()
	for to.o.Streams() != 0 {
		if time.Since(quiet) > cfg.IdleTimeout+10*time.Second {
			t.Fatalf("stream still running %v after the last request", time.Since(quiet))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The reaper takes the stream out of the origin, then stops it: ffmpeg is gone soon after.
	for stopped := time.Now(); transcodersRunning.Load() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Since(stopped) > 5*time.Second {
			t.Fatalf("%v transcoders left 5 s after the stream stopped", transcodersRunning.Load())
		}
	}
	if err := goleak.Find(before); err != nil {
		t.Fatalf("goroutines left by the stopped stream and its ffmpeg: %v", err)
	}
}
