package transcode

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap/zaptest"
)

// runLadder starts a Ladder on fx, feeds it live for `seconds`, closes it, and returns what
// each Track delivered.
func runLadder(t *testing.T, cfg Config, fx fixture, seconds float64) (*Ladder, []*collector) {
	t.Helper()
	l, err := Start(context.Background(), cfg, fx.src, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	var cs []*collector
	for _, tr := range l.Tracks() {
		cs = append(cs, collect(tr))
	}
	stop := make(chan struct{})
	fed := make(chan struct{})
	fedStart := time.Now()
	go func() {
		defer close(fed)
		feed(t, l, fx, 100, stop, fedStart)
	}()
	time.Sleep(time.Duration(seconds * float64(time.Second)))
	close(stop)
	<-fed
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, c := range cs {
		c.wait(t)
		t.Logf("track %q (%s): first packet after %v", c.track.RID, c.track.Kind, c.startup())
		// Typically 0.1-0.2 s here; generous for a loaded CI machine, but a lost first
		// keyframe (a whole source GOP of waiting) or a probing ffmpeg would show.
		if d := c.startup(); d < 0 || d > 3*time.Second {
			t.Errorf("track %q: first packet after %v: ffmpeg starts too slowly", c.track.RID, d)
		}
		if c.track.Kind == webrtc.RTPCodecTypeVideo {
			// What the ladder adds between the host's frame and the SFU: typically 50-80 ms
			// here through ffmpeg, under 1 ms passed through. 1 s would be a buffering bug.
			lat := c.latency(fedStart.Add(fx.firstVideo()), fedStart, time.Now())
			t.Logf("track %q: median latency %v", c.track.RID, lat)
			if lat > time.Second {
				t.Errorf("track %q: median latency %v", c.track.RID, lat)
			}
		}
	}
	return l, cs
}

// TestLadder720pBaseline: a 720p30 source becomes a 720p and a 480p rendition (no 1080p:
// never upscale), each constrained-baseline with SPS/PPS before every IDR, plus Opus.
func TestLadder720pBaseline(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 1280, height: 720, fps: 30, seconds: 2, profile: "baseline", audio: true})
	l, cs := runLadder(t, Config{Passthrough: PassthroughNever}, fx, 5)
	if l.Passthrough() {
		t.Fatal("passthrough with PassthroughNever")
	}
	want := []struct {
		rid  string
		w, h int
	}{{"h", 1280, 720}, {"q", 854, 480}}
	if len(cs) != len(want)+1 {
		t.Fatalf("got %d tracks, want %d video + audio", len(cs), len(want))
	}
	for i, w := range want {
		tr := cs[i].track
		if tr.RID != w.rid || tr.Kind != webrtc.RTPCodecTypeVideo || tr.Width != w.w || tr.Height != w.h {
			t.Fatalf("track %d: %+v, want rid %s %dx%d", i, tr, w.rid, w.w, w.h)
		}
		r := analyzeVideo(t, cs[i].packets())
		t.Logf("%s: %+v", w.rid, r)
		if r.width != w.w || r.height != w.h {
			t.Errorf("%s: SPS says %dx%d, want %dx%d", w.rid, r.width, r.height, w.w, w.h)
		}
		if r.profileIdc != 66 {
			t.Errorf("%s: profile_idc %d, want 66 (baseline)", w.rid, r.profileIdc)
		}
		if r.idrWithParams < 2 || r.idrBare > 0 {
			t.Errorf("%s: %d IDRs with SPS/PPS, %d without: want a 1 s GOP, every IDR with its parameter sets", w.rid, r.idrWithParams, r.idrBare)
		}
		if r.frames < 60 || r.tsBackwards > 0 || r.seqGaps > 0 {
			t.Errorf("%s: %d frames, %d reordered, %d packets missing", w.rid, r.frames, r.tsBackwards, r.seqGaps)
		}
	}
	audio := cs[len(cs)-1]
	if audio.track.Kind != webrtc.RTPCodecTypeAudio || audio.track.Codec.MimeType != webrtc.MimeTypeOpus {
		t.Fatalf("last track %+v, want Opus audio", audio.track)
	}
	// 20 ms frames: about 50 a second once ffmpeg runs.
	if n := len(audio.packets()); n < 100 {
		t.Errorf("%d Opus packets in 5 s, want at least 100", n)
	}
	assertNoChildren(t)
}
