package transcode

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap/zaptest"
)

// testSPS and testPPS are a constrained-baseline 320x240 stream's parameter sets; passthrough
// only forwards them, so Start needs nothing more to pick passthrough without ffmpeg.
var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80}
	testPPS = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
)

// passthroughSource is a video-only source Start forwards in-process: no ffmpeg runs.
func passthroughSource() Source {
	return Source{HasVideo: true, Width: 320, Height: 240, FPS: 30, SPS: testSPS, PPS: testPPS, ProfileLevelID: "42c00d"}
}

// TestStartCancelledContext: a context cancelled before Start must fail Start, not return a
// Ladder that is being closed underneath its caller, and must leave no ffmpeg behind.
func TestStartCancelledContext(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	src := passthroughSource()
	src.HasAudio, src.AudioConfig = true, []byte{0x12, 0x10} // AAC-LC 44.1 kHz stereo: ffmpeg runs for the Opus
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l, err := Start(ctx, Config{FFmpeg: ffmpeg}, src, zaptest.NewLogger(t))
	if !errors.Is(err, context.Canceled) {
		if l != nil {
			l.Close()
		}
		t.Fatalf("Start with a cancelled context: %v, want context.Canceled", err)
	}
	if l != nil {
		t.Fatal("Start failed but returned a Ladder")
	}
	assertNoChildren(t)
}

// TestStartCancelRace: cancelling while Start runs either fails Start or closes the Ladder it
// returned; -race checks that Close, run by the context, never reads what Start still writes.
func TestStartCancelRace(t *testing.T) {
	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		go cancel()
		l, err := Start(ctx, Config{FFmpeg: "/nonexistent/ffmpeg"}, passthroughSource(), zaptest.NewLogger(t))
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Start: %v", err)
			}
			continue
		}
		<-ctx.Done()
		if err := l.Close(); err != nil { // after the context's Close, or racing it
			t.Fatal(err)
		}
		if err := l.WriteH264(0, 0, [][]byte{{0x65, 0x88}}); !errors.Is(err, ErrClosed) {
			t.Fatalf("WriteH264 after cancel: %v, want ErrClosed", err)
		}
	}
}
