package transcode

import (
	"context"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// TestRestartReplaysTheGOP: a host whose keyframes are 10 s apart, ffmpeg killed 2 s after
// one. The restarted process is given the host's input since that keyframe and starts its
// outputs at the newest frame of it: video comes back long before the host's next
// keyframe (the only way it came back before), and without a burst of the GOP's frames
// encoded again (they are decoded and discarded: `-ss`).
func TestRestartReplaysTheGOP(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 640, height: 360, fps: 30, seconds: 10, profile: "baseline", audio: true, gop: 300})
	l, err := Start(context.Background(), Config{Passthrough: PassthroughNever, Preset: "ultrafast", MinBackoff: 100 * time.Millisecond,
		Ladder: []Rendition{{RID: "f", Height: 360, Bitrate: 600_000}}}, fx.src, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	video := collect(l.Tracks()[0])
	stop, fed := make(chan struct{}), make(chan struct{})
	fedStart := time.Now()
	go func() { defer close(fed); feed(t, l, fx, 2, stop, fedStart) }()
	defer func() {
		close(stop)
		<-fed
		l.Close()
	}()
	nextKey := fedStart.Add(10 * time.Second) // the fixture's second loop starts with its keyframe

	waitFor(t, 10*time.Second, "first video", func() bool { return len(video.packets()) > 50 })
	time.Sleep(time.Until(fedStart.Add(2 * time.Second)))
	before := counterValue(replayedRestarts)
	old := l.FFmpegPID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	mark := len(video.packets())
	waitFor(t, 15*time.Second, "video after the restart", func() bool { return len(video.packets()) > mark })
	video.mu.Lock()
	back := video.arrivals[mark]
	video.mu.Unlock()
	// A second on, the new process has made one frame for each the host sent from the
	// newest held one on; had it encoded the held GOP again, 60 more.
	time.Sleep(time.Until(back.Add(time.Second)))
	video.mu.Lock()
	frames := map[uint32]bool{}
	for _, p := range video.pkts[mark:] {
		frames[p.Timestamp] = true
	}
	sent := int(time.Since(killed)*30/time.Second) + 1
	video.mu.Unlock()
	t.Logf("killed %v after the host's keyframe; video back %v later, %v before the host's next keyframe; %d frames from the new process, %d sent by the host since the kill",
		killed.Sub(fedStart).Round(time.Millisecond), back.Sub(killed).Round(time.Millisecond), nextKey.Sub(back).Round(time.Millisecond), len(frames), sent)
	if !back.Before(nextKey) {
		t.Fatalf("video came back %v after the host's next keyframe: the held GOP was not replayed", back.Sub(nextKey))
	}
	if n := counterValue(replayedRestarts) - before; n != 1 {
		t.Errorf("replayed restarts counted %v, want 1", n)
	}
	if len(frames) > sent+15 {
		t.Errorf("%d frames from the new process for %d the host sent since the kill: the held GOP was encoded again, not skipped to its newest frame", len(frames), sent)
	}
}
