package rtmp

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/ingest/transcode"
	"github.com/glintlive/glint/sfu"
)

// ladderServer is an RTMP server with the real ffmpeg ladder. It never sheds work unless
// tc says so (OverloadLag): a CI machine busy with other tests must not take away a rung
// that a test watches (shedding has its own tests).
func ladderServer(t *testing.T, s *sfu.SFU, tc transcode.Config) *Server {
	t.Helper()
	ffmpeg := requireFFmpeg(t)
	tc.FFmpeg = ffmpeg
	if tc.OverloadLag == 0 {
		tc.OverloadLag = -1
	}
	if _, err := transcode.Check(ffmpeg); err != nil {
		t.Fatalf("ffmpeg cannot run the ladder: %v", err)
	}
	return startServer(t, testConfig(), Options{SFU: s, Ladder: FFmpegLadder(tc)})
}

// layerWant is what a viewer capped at a layer must decode.
type layerWant struct {
	layer         int
	width, height int
}

// watchLayers subscribes one viewer per layer before the host starts, so each joins at
// its layer's first keyframe, then checks every viewer decodes 20 frames of its
// rendition's size and receives Opus audio.
func watchLayers(t *testing.T, s *sfu.SFU, room string, wants []layerWant, enc *encoder) {
	t.Helper()
	ctx := contextFor(t, 60*time.Second)
	viewers := make([]*h264Viewer, len(wants))
	for i, w := range wants {
		viewers[i] = newH264Viewer(t, s, room, w.layer)
	}
	for i, w := range wants {
		if err := viewers[i].waitFrames(ctx, 0, 20, w.width, w.height); err != nil {
			t.Fatalf("viewer capped at %s: %v\nffmpeg:\n%s", sfu.LayerName(w.layer), err, tail(enc.out.String(), 2000))
		}
	}
	for i, v := range viewers {
		waitFor(t, 10*time.Second, "Opus audio", func() bool { m, n := v.audio(); return m == webrtc.MimeTypeOpus && n > 50 })
		if f := v.frames(); !f[0].key {
			t.Errorf("viewer %d started on a frame that is not a keyframe", i)
		}
		if _, broken := v.decodable(); broken > 0 {
			t.Errorf("viewer %d got %d frames before any SPS: %s", i, broken, v.summary())
		}
	}
}

// TestLadderBaseline (a): constrained-baseline H.264 + AAC through the ffmpeg ladder
// (passthrough off): three renditions as simulcast layers, each decodable at its size,
// and the AAC as Opus.
func TestLadderBaseline(t *testing.T) {
	s := newTestSFU(t)
	srv := ladderServer(t, s, transcode.Config{
		Passthrough: transcode.PassthroughNever, Preset: "ultrafast",
		Ladder: []transcode.Rendition{{RID: "f", Height: 360, Bitrate: 800_000}, {RID: "h", Height: 240, Bitrate: 400_000}, {RID: "q", Height: 180, Bitrate: 200_000}},
	})
	enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "ladder")), 40*time.Second, baselineArgs...)
	watchLayers(t, s, "ladder", []layerWant{{sfu.LayerFull, 640, 360}, {sfu.LayerMid, 426, 240}, {sfu.LayerLow, 320, 180}}, enc)
}

// TestLadderHighBFrames (b): the command line, High profile with three B-frames
// at 1280x720: reordered frames cannot be forwarded, so the ladder runs even with
// passthrough auto; the default ladder never upscales, so 720p and 480p come out.
func TestLadderHighBFrames(t *testing.T) {
	s := newTestSFU(t)
	srv := ladderServer(t, s, transcode.Config{Preset: "ultrafast"})
	enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "bframes")), 40*time.Second, highBFramesArgs...)
	watchLayers(t, s, "bframes", []layerWant{{sfu.LayerFull, 1280, 720}, {sfu.LayerMid, 1280, 720}, {sfu.LayerLow, 854, 480}}, enc)
}

// TestPassthroughBaseline: a baseline source needs no re-encoding: one layer at the
// source's size (every viewer gets it, whatever its cap), audio as Opus.
func TestPassthroughBaseline(t *testing.T) {
	s := newTestSFU(t)
	srv := ladderServer(t, s, transcode.Config{})
	enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "pass")), 40*time.Second, baselineArgs...)
	watchLayers(t, s, "pass", []layerWant{{sfu.LayerFull, 640, 360}, {sfu.LayerLow, 640, 360}}, enc)
}

// TestLadderHostReconnects: with the real ladder, the host drops and comes back (here as
// a smaller picture, through the ladder the second time): the viewer, never renegotiated,
// decodes the new stream and its audio keeps flowing.
func TestLadderHostReconnects(t *testing.T) {
	s := newTestSFU(t)
	srv := ladderServer(t, s, transcode.Config{Preset: "ultrafast"})
	ctx := contextFor(t, 60*time.Second)
	v := newH264Viewer(t, s, "again", sfu.LayerFull)
	first := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "again")), 40*time.Second, baselineArgs...)
	if err := v.waitFrames(ctx, 0, 20, 640, 360); err != nil {
		t.Fatalf("%v\nffmpeg:\n%s", err, tail(first.out.String(), 2000))
	}
	first.kill()
	mark := len(v.frames())
	_, audioBefore := v.audio()
	mainB := append([]string(nil), smallArgs...)
	for i, a := range mainB {
		if a == "baseline" {
			mainB[i] = "main"
		}
	}
	mainB = append(mainB, "-bf", "2")
	second := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "again")), 40*time.Second, mainB...)
	if err := v.waitFrames(ctx, mark, 20, 320, 240); err != nil {
		t.Fatalf("after the reconnect: %v\nffmpeg:\n%s", err, tail(second.out.String(), 2000))
	}
	waitFor(t, 10*time.Second, "audio after the reconnect", func() bool { _, n := v.audio(); return n > audioBefore+50 })
}
