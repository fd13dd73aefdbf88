package transcode

import (
	"bytes"
	"testing"

	"github.com/pion/webrtc/v4"
)

// TestPassthroughBaseline: a baseline source without B-frames is forwarded as it is: one
// video layer without a RID, the source's own SPS, SPS/PPS put back in front of every IDR
// (the fixture has them only out of band, as RTMP does), and Opus from ffmpeg beside it.
func TestPassthroughBaseline(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 640, height: 360, fps: 30, seconds: 2, profile: "baseline", audio: true})
	l, cs := runLadder(t, Config{}, fx, 4)
	if !l.Passthrough() {
		t.Fatal("a baseline source without B-frames was not passed through")
	}
	if len(cs) != 2 {
		t.Fatalf("%d tracks, want video and audio", len(cs))
	}
	v := cs[0].track
	if v.RID != "" || v.Kind != webrtc.RTPCodecTypeVideo || v.Width != 640 || v.Height != 360 {
		t.Fatalf("video track %+v", v)
	}
	if want := "profile-level-id=42"; !bytes.Contains([]byte(v.Codec.SDPFmtpLine), []byte(want)) {
		t.Errorf("codec %q, want a baseline profile", v.Codec.SDPFmtpLine)
	}
	r := analyzeVideo(t, cs[0].packets())
	t.Logf("passthrough: %+v", r)
	if !bytes.Equal(r.sps, fx.src.SPS) {
		t.Errorf("SPS changed: got %x, want the source's %x", r.sps, fx.src.SPS)
	}
	if r.idrWithParams < 3 || r.idrBare > 0 {
		t.Errorf("%d IDRs with SPS/PPS, %d without", r.idrWithParams, r.idrBare)
	}
	// Passthrough adds no encoder delay: nearly every fed frame must have come out.
	if r.frames < 100 || r.seqGaps > 0 || r.tsBackwards > 0 {
		t.Errorf("%d frames in 4 s, %d packets missing, %d reordered", r.frames, r.seqGaps, r.tsBackwards)
	}
	if n := len(cs[1].packets()); n < 100 {
		t.Errorf("%d Opus packets, want at least 100", n)
	}
	assertNoChildren(t)
}

// TestPassthroughVideoOnly: without audio no ffmpeg runs at all.
func TestPassthroughVideoOnly(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 320, height: 240, fps: 30, seconds: 1, profile: "baseline"})
	l, cs := runLadder(t, Config{FFmpeg: "/nonexistent/ffmpeg"}, fx, 2)
	if !l.Passthrough() || len(cs) != 1 || l.FFmpegPID() != 0 {
		t.Fatalf("passthrough %v, %d tracks, ffmpeg pid %d", l.Passthrough(), len(cs), l.FFmpegPID())
	}
	if r := analyzeVideo(t, cs[0].packets()); r.frames < 40 || r.idrWithParams < 1 {
		t.Errorf("%+v", r)
	}
}

// TestBFramesAreTranscoded: a High-profile source with B-frames cannot be forwarded (decode
// order is not display order); it is transcoded to baseline without B-frames. Smaller than
// every rung, it keeps one rung at its own height.
func TestBFramesAreTranscoded(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 640, height: 360, fps: 30, seconds: 2, profile: "high", bframes: 3, audio: true})
	if !fx.src.BFrames {
		t.Fatal("fixture: B-frames not detected")
	}
	l, cs := runLadder(t, Config{}, fx, 4)
	if l.Passthrough() {
		t.Fatal("a source with B-frames was passed through")
	}
	if len(cs) != 2 || cs[0].track.RID != "q" || cs[0].track.Width != 640 || cs[0].track.Height != 360 {
		t.Fatalf("tracks: %+v", cs[0].track)
	}
	r := analyzeVideo(t, cs[0].packets())
	t.Logf("q: %+v", r)
	if r.profileIdc != 66 || r.width != 640 || r.height != 360 {
		t.Errorf("profile_idc %d, %dx%d: want baseline 640x360", r.profileIdc, r.width, r.height)
	}
	if r.frames < 60 || r.tsBackwards > 0 {
		t.Errorf("%d frames, %d out of order: want no reordering", r.frames, r.tsBackwards)
	}
	if r.idrWithParams < 2 || r.idrBare > 0 {
		t.Errorf("%d IDRs with SPS/PPS, %d without", r.idrWithParams, r.idrBare)
	}
	assertNoChildren(t)
}
