package rtmp

import (
	"strings"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu"
)

// TestPublishReachesViewer: ffmpeg publishes constrained-baseline H.264 + AAC with a token
// as the stream key; the probe reads the stream's size and finds no B-frames at once
// (Baseline cannot have them), the ladder gets video and audio with times from zero, and a
// WebRTC viewer of the token's room decodes the picture at the source size.
func TestPublishReachesViewer(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	srv := startServer(t, testConfig(), Options{SFU: s, Ladder: l.start})
	ctx := contextFor(t, 30*time.Second)

	v := newH264Viewer(t, s, "show", sfu.LayerFull)
	enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 20*time.Second, baselineArgs...)
	if err := v.waitFrames(ctx, 0, 30, 640, 360); err != nil {
		t.Fatalf("%v\nffmpeg:\n%s", err, enc.out.String())
	}
	if _, broken := v.decodable(); broken > 0 {
		t.Errorf("%d frames reached the viewer before any SPS: %s", broken, v.summary())
	}
	started := l.list()
	if len(started) != 1 {
		t.Fatalf("%d ladders started, want 1", len(started))
	}
	src := started[0].src
	if !src.HasVideo || !src.HasAudio || src.Width != 640 || src.Height != 360 || src.BFrames || src.ProfileLevelID != "42e01e" || len(src.AudioConfig) == 0 {
		t.Errorf("probed source %+v", src)
	}
	if src.FPS != 30 {
		t.Errorf("fps %v, want 30 (from the metadata or the SPS)", src.FPS)
	}
	waitFor(t, 5*time.Second, "audio at the ladder", func() bool { _, a := started[0].counts(); return a > 20 })
	if info := s.Room("show").Info(); !info.Publishing {
		t.Errorf("room info %+v", info)
	}
	// A ladder that sheds work tells the room, so viewers are told (room.quality).
	if st := s.Room("show").Host(); st.Reduced != "" {
		t.Errorf("reduced before any shed: %+v", st)
	}
	started[0].shed("switched to a faster x264 preset (ultrafast, was veryfast)", true)
	if st := s.Room("show").Host(); !st.Live || !strings.Contains(st.Reduced, "switched to a faster x264 preset") {
		t.Errorf("after the ladder shed its preset the host state is %+v", st)
	}
	// And when it takes the preset back, viewers get all the host sends again.
	started[0].shed("went back to its x264 preset (veryfast, was ultrafast) after keeping up for 2m0s", false)
	if st := s.Room("show").Host(); !st.Live || st.Reduced != "" {
		t.Errorf("after the ladder took its preset back the host state is %+v", st)
	}
	enc.kill()
	waitFor(t, 5*time.Second, "the ladder closed after the host left", started[0].isClosed)
	waitFor(t, 5*time.Second, "the stage emptied", func() bool { return !s.Room("show").Info().Publishing })
}

// TestLongPublish: a publish outlives the handshake timeout and sends more than the
// acknowledgement window its client asked for (gortmplib's client, like librtmp, sets
// 2.5 MB), so the server writes acknowledgements mid-stream. The stream must go on: the
// handshake's deadline once stayed on writes and cut every such stream off at its first
// acknowledgement.
func TestLongPublish(t *testing.T) {
	ffmpeg := requireFFmpeg(t)
	s := newTestSFU(t)
	var l ladders
	cfg := testConfig()
	cfg.HandshakeTimeout = time.Second
	srv := startServer(t, cfg, Options{SFU: s, Ladder: l.start})
	aus := latencyClip(t, ffmpeg, 4, "16M") // noise half the time: about 4 MB
	total := 0
	for _, au := range aus {
		for _, n := range au {
			total += len(n)
		}
	}
	if total < 3<<20 {
		t.Fatalf("clip of %d bytes is under the 2.5 MB window", total)
	}
	publishClipAt(t, srv, publishToken(t, "long"), aus, func(i int) time.Duration {
		if i < 10 {
			return time.Duration(i) * 33 * time.Millisecond // enough for the probe, in time
		}
		return 1500 * time.Millisecond // then the rest at once, after the handshake deadline
	})
	deadline := time.Now().Add(5 * time.Second)
	for v, _ := l.list()[0].counts(); v != len(aus); v, _ = l.list()[0].counts() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d frames reached the ladder; connections open: %d", v, len(aus), srv.openConns())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
