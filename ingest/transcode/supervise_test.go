package transcode

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap/zaptest"
)

// TestRestartAfterCrash: ffmpeg killed mid-stream is restarted, and each Track carries on
// with continuous sequence numbers and advancing timestamps, so viewers see a short freeze
// rather than a stream their decoders and the SFU's caches reject.
func TestRestartAfterCrash(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 640, height: 360, fps: 30, seconds: 2, profile: "baseline", audio: true})
	l, err := Start(context.Background(), Config{Passthrough: PassthroughNever, MinBackoff: 100 * time.Millisecond}, fx.src, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	var cs []*collector
	for _, tr := range l.Tracks() {
		cs = append(cs, collect(tr))
	}
	stop, fed := make(chan struct{}), make(chan struct{})
	fedStart := time.Now()
	go func() { defer close(fed); feed(t, l, fx, 100, stop, fedStart) }()
	defer func() {
		close(stop)
		<-fed
		l.Close()
	}()

	waitFor(t, 10*time.Second, "first video", func() bool { return len(cs[0].packets()) > 50 })
	before := restarted()
	old := l.FFmpegPID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a new ffmpeg", func() bool { p := l.FFmpegPID(); return p != 0 && p != old })
	if n := restarted() - before; n != 1 {
		t.Errorf("restart counter moved by %v, want 1", n)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(old)); err == nil {
		t.Errorf("killed ffmpeg %d still in /proc: not reaped", old)
	}
	mark := len(cs[0].packets())
	waitFor(t, 10*time.Second, "video after the restart", func() bool { return len(cs[0].packets()) > mark+200 })
	close(stop)
	<-fed
	stop = make(chan struct{}) // for the deferred close
	l.Close()
	for _, c := range cs {
		c.wait(t)
	}

	for _, c := range cs {
		pkts := c.packets()
		var gaps, back int
		for i := 1; i < len(pkts); i++ {
			if d := pkts[i].SequenceNumber - pkts[i-1].SequenceNumber; d != 1 {
				gaps++
			}
			if int32(pkts[i].Timestamp-pkts[i-1].Timestamp) < 0 {
				back++
			}
		}
		t.Logf("track %q: %d packets, %d sequence breaks, %d timestamps backwards", c.track.RID, len(pkts), gaps, back)
		if gaps > 0 || back > 0 {
			t.Errorf("track %q: not continuous across the restart", c.track.RID)
		}
	}
	r := analyzeVideo(t, cs[0].packets())
	if r.idrWithParams < 3 || r.idrBare > 0 {
		t.Errorf("video after restart: %+v", r)
	}
	assertNoChildren(t)
}

// TestStallRestarts: an "ffmpeg" that takes input and never outputs, or hangs without even
// reading its input, is killed after the stall timeout and restarted, and Close leaves
// neither it nor the child it started behind (the whole process group goes).
func TestStallRestarts(t *testing.T) {
	for name, tail := range map[string]string{
		"reads, never writes": "exec cat > /dev/null",
		"hangs":               "exec sleep 300",
	} {
		t.Run(name, func(t *testing.T) { testStall(t, tail) })
	}
}

func testStall(t *testing.T, tail string) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "ffmpeg")
	// A grandchild in the same process group, then the fake's behaviour.
	script := "#!/bin/sh\nsleep 300 &\necho $! > " + filepath.Join(dir, "child.$$") + "\n" + tail + "\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	src := Source{HasAudio: true, AudioConfig: []byte{0x12, 0x10}} // AAC-LC 44.1 kHz stereo
	l, err := Start(context.Background(), Config{FFmpeg: fake, StallTimeout: time.Second, MinBackoff: 50 * time.Millisecond}, src, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	before := counterValue(restartsOnStall)
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		frame := make([]byte, 200)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(23 * time.Millisecond):
			}
			if err := l.WriteAAC(time.Duration(i)*23*time.Millisecond, frame); err != nil {
				return
			}
		}
	}()
	waitFor(t, 10*time.Second, "a stall restart", func() bool { return counterValue(restartsOnStall) > before })
	// The restarted fake has run once its shell has recorded its child (a pid alone says
	// it was forked, not that the script got that far before Close kills it).
	waitFor(t, 5*time.Second, "the restarted fake", func() bool {
		children, _ := filepath.Glob(filepath.Join(dir, "child.*"))
		recorded := 0
		for _, f := range children {
			if b, _ := os.ReadFile(f); strings.TrimSpace(string(b)) != "" {
				recorded++
			}
		}
		return recorded >= 2
	})
	close(stop)
	<-fed
	l.Close()
	assertNoChildren(t)
	children, _ := filepath.Glob(filepath.Join(dir, "child.*"))
	if len(children) < 2 {
		t.Fatalf("%d fake ffmpeg runs recorded, want at least 2", len(children))
	}
	for _, f := range children {
		b, _ := os.ReadFile(f)
		pid := strings.TrimSpace(string(b))
		if pid != "" && alive(pid) { // a run killed while writing its record left it empty
			t.Errorf("grandchild %s (from %s) outlived its ffmpeg: the process group was not killed", pid, filepath.Base(f))
		}
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

// TestCloseAtOnce: closing right after Start (ffmpeg still starting) and cancelling Start's
// context both end everything.
func TestCloseAtOnce(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 320, height: 240, fps: 30, seconds: 1, profile: "high", bframes: 2, audio: true})
	l, err := Start(context.Background(), Config{}, fx.src, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	assertNoChildren(t)
	if err := l.WriteAAC(0, []byte{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteAAC after Close: %v, want ErrClosed", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	l, err = Start(ctx, Config{}, fx.src, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	c := collect(l.Tracks()[0])
	waitFor(t, 5*time.Second, "ffmpeg", func() bool { return l.FFmpegPID() != 0 })
	cancel()
	c.wait(t) // the source ends: the Ladder closed itself
	l.Close()
	assertNoChildren(t)
}

// TestCheckMissingFFmpeg: no ffmpeg is a clear error that says how to install it, from
// Check and from Start alike; an ffmpeg without the encoders is told apart.
func TestCheckMissingFFmpeg(t *testing.T) {
	_, err := Check("/nonexistent/ffmpeg")
	if !errors.Is(err, ErrNoFFmpeg) || !strings.Contains(err.Error(), "apt-get install ffmpeg") {
		t.Fatalf("Check: %v, want ErrNoFFmpeg telling how to install it", err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Check(""); !errors.Is(err, ErrNoFFmpeg) {
		t.Fatalf("Check with no ffmpeg on PATH: %v", err)
	}
	src := Source{HasAudio: true, AudioConfig: []byte{0x12, 0x10}}
	if _, err := Start(context.Background(), Config{}, src, nil); !errors.Is(err, ErrNoFFmpeg) {
		t.Fatalf("Start with no ffmpeg: %v", err)
	}

	dir := t.TempDir()
	fake := filepath.Join(dir, "ffmpeg")
	script := "#!/bin/sh\necho ' V....D libx265              libx265 H.265'\necho ' A....D libopus              libopus Opus'\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(fake); !errors.Is(err, ErrMissingEncoder) || !strings.Contains(err.Error(), "libx264") {
		t.Fatalf("Check of an ffmpeg without libx264: %v", err)
	}
}

func restarted() float64 {
	return counterValue(restartsOnExit) + counterValue(restartsOnStall)
}

func waitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counterValue reads a counter (prometheus's testutil would pull in modules go.sum lacks).
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	return m.GetCounter().GetValue()
}
