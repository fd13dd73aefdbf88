package transcode

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// slowFirstFFmpeg writes an ffmpeg wrapper whose first run reads its input at a third of
// real time (-readrate), as on a machine too busy for the ladder, and every later run at
// full speed.
func slowFirstFFmpeg(t *testing.T, ffmpeg string) string {
	t.Helper()
	dir := t.TempDir()
	mark, wrapper := filepath.Join(dir, "slow"), filepath.Join(dir, "ffmpeg")
	script := "#!/bin/sh\nif mv " + mark + " " + mark + ".taken 2>/dev/null; then exec " + ffmpeg + " -readrate 0.3 \"$@\"; fi\nexec " + ffmpeg + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mark, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return wrapper
}

// feeding feeds fx to l in real time (30 loops at most) until the returned function is
// called, which also closes l.
func feeding(t *testing.T, l *Ladder, fx fixture) func() {
	stop, fed := make(chan struct{}), make(chan struct{})
	go func() { defer close(fed); feed(t, l, fx, 30, stop, time.Now()) }()
	return func() {
		close(stop)
		<-fed
		l.Close()
	}
}

// TestLadderShedsWhenBehind: a real ffmpeg that cannot keep up with its host (the first
// process reads its input at a third of real time: `-readrate`, put in by a wrapper that
// only the first run takes) is restarted without the top rung, once: its preset is already
// ultrafast, so one rung is all that is left to shed. The shed rung's track stops, the
// other keeps its video coming, and the new process is asked for one rung only. The new
// process takes over while the old one still sends (make before break: a seamless
// handover); the longest gap in the kept rung's packets is logged.
func TestLadderShedsWhenBehind(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 640, height: 360, fps: 30, seconds: 2, profile: "baseline", audio: true})
	wrapper := slowFirstFFmpeg(t, ffmpeg)
	l, err := Start(context.Background(), Config{FFmpeg: wrapper, Passthrough: PassthroughNever, Preset: "ultrafast",
		Ladder: []Rendition{{RID: "f", Height: 360, Bitrate: 600_000}, {RID: "q", Height: 180, Bitrate: 200_000}}}, fx.src, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	tracks := l.Tracks()
	if len(tracks) != 3 || tracks[0].RID != "f" || tracks[1].RID != "q" {
		t.Fatalf("tracks %+v: want f, q and audio", tracks)
	}
	top, low := collect(tracks[0]), collect(tracks[1])
	told := make(chan Shed, 4) // what the host's viewers are told (room.quality)
	l.OnShed(func(s Shed) { told <- s })
	defer feeding(t, l, fx)()

	before := counterValue(sheds.WithLabelValues("rung"))
	seamless := counterValue(handoverSeamless)
	first := 0
	waitFor(t, 5*time.Second, "the first ffmpeg", func() bool { first = l.FFmpegPID(); return first != 0 })
	waitFor(t, 30*time.Second, "a shed", func() bool { return counterValue(sheds.WithLabelValues("rung")) > before })
	shedAt := time.Now() // within 20 ms of the shed (waitFor's poll)
	var pid int
	waitFor(t, 10*time.Second, "the lighter ffmpeg", func() bool { pid = l.FFmpegPID(); return pid != 0 && pid != first })
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	args := strings.ReplaceAll(string(cmdline), "\x00", " ")
	if !strings.Contains(args, "scale=320:180") || strings.Contains(args, "scale=640:360") || strings.Contains(args, "readrate") {
		t.Fatalf("the ffmpeg after the shed runs %s; want the q rung alone, at full speed", args)
	}
	topAt, lowAt := len(top.packets()), len(low.packets())
	waitFor(t, 15*time.Second, "q's video after the shed", func() bool { return len(low.packets()) > lowAt+300 })
	if n := len(top.packets()) - topAt; n > 0 {
		t.Errorf("the shed rung's track got %d packets after the shed", n)
	}
	select {
	case <-top.done: // its reader saw io.EOF: the layer leaves the stage
	default:
		t.Error("the shed rung's track has not ended")
	}
	if n := counterValue(handoverSeamless) - seamless; n != 1 {
		t.Errorf("%v seamless handovers; want 1: the new ffmpeg's packets should come while the old one still sends (timeouts %v, ended %v)",
			n, counterValue(handoverTimeout), counterValue(handoverEnded))
	}
	gap, ended := low.longestGap(shedAt.Add(-time.Second), shedAt.Add(2*time.Second))
	t.Logf("longest gap in the kept rung's packets from 1 s before the shed to 2 s after: %v, ending %v after it", gap, ended.Sub(shedAt).Round(time.Millisecond))
	if n := counterValue(sheds.WithLabelValues("rung")) - before; n != 1 {
		t.Errorf("%v sheds; want 1 (nothing left to shed after it)", n)
	}
	select {
	case s := <-told:
		if s.Kind != "rung" || s.Rungs != 1 || !strings.Contains(s.What, "640x360") {
			t.Errorf("OnShed told %+v; want the 640x360 rung dropped, one left", s)
		}
	default:
		t.Error("OnShed was not told of the shed")
	}
}

// restoringLadder starts a two-rung veryfast ladder on ffmpeg (a wrapper) that takes its
// preset back after 3 s of keeping up, with collectors on both rungs and a channel of
// what its viewers are told.
func restoringLadder(t *testing.T, ffmpeg string, fx fixture) (l *Ladder, top, low *collector, told chan Shed) {
	t.Helper()
	l, err := Start(context.Background(), Config{FFmpeg: ffmpeg, Passthrough: PassthroughNever, Preset: "veryfast", RestoreAfter: 3 * time.Second,
		Ladder: []Rendition{{RID: "f", Height: 360, Bitrate: 600_000}, {RID: "q", Height: 180, Bitrate: 200_000}}}, fx.src, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	tracks := l.Tracks()
	told = make(chan Shed, 8)
	l.OnShed(func(s Shed) { told <- s })
	return l, collect(tracks[0]), collect(tracks[1]), told
}

// TestLadderTakesItsPresetBack: a ladder that shed its preset (the first ffmpeg reads at a
// third of real time, as above) and then keeps up comfortably for RestoreAfter is
// restarted with the configured preset, as seamlessly as it shed: the viewers are told
// both steps, the third ffmpeg runs veryfast again, both rungs' tracks go on, and the
// second process hands over while it still sends.
func TestLadderTakesItsPresetBack(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 640, height: 360, fps: 30, seconds: 2, profile: "baseline", audio: true})
	l, top, low, told := restoringLadder(t, slowFirstFFmpeg(t, ffmpeg), fx)
	defer feeding(t, l, fx)()

	restored, seamless := counterValue(restores), counterValue(handoverSeamless)
	select {
	case s := <-told:
		if s.Kind != "preset" || !s.Reduced() {
			t.Fatalf("first change %+v; want the preset shed", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the slowed ladder did not shed its preset")
	}
	var s Shed
	select {
	case s = <-told:
	case <-time.After(30 * time.Second):
		t.Fatal("the ladder did not take its preset back after keeping up")
	}
	restoredAt := time.Now()
	if s.Kind != "restore" || s.Reduced() || s.Rungs != 2 || !strings.Contains(s.What, "veryfast, was ultrafast") {
		t.Fatalf("second change %+v; want the preset restored with both rungs", s)
	}
	var args string
	waitFor(t, 10*time.Second, "the ffmpeg with the preset back", func() bool {
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(l.FFmpegPID()) + "/cmdline")
		args = strings.ReplaceAll(string(cmdline), "\x00", " ")
		return err == nil && strings.Contains(args, "-preset veryfast")
	})
	if !strings.Contains(args, "scale=640:360") || !strings.Contains(args, "scale=320:180") || strings.Contains(args, "readrate") {
		t.Fatalf("the ffmpeg after the restore runs %s; want both rungs at full speed", args)
	}
	topAt, lowAt := len(top.packets()), len(low.packets())
	waitFor(t, 15*time.Second, "both rungs' video after the restore", func() bool {
		return len(top.packets()) > topAt+300 && len(low.packets()) > lowAt+150
	})
	if n := counterValue(restores) - restored; n != 1 {
		t.Errorf("%v restores; want 1", n)
	}
	waitFor(t, 5*time.Second, "the restore's handover", func() bool { return counterValue(handoverSeamless)-seamless >= 2 })
	for _, c := range []struct {
		name string
		c    *collector
	}{{"f", top}, {"q", low}} {
		gap, ended := c.c.longestGap(restoredAt.Add(-time.Second), restoredAt.Add(3*time.Second))
		t.Logf("longest gap in %s's packets from 1 s before the restore to 3 s after: %v, ending %v after it", c.name, gap, ended.Sub(restoredAt).Round(time.Millisecond))
	}
}

// refusingRestoreFFmpeg writes an ffmpeg wrapper whose first run reads at a third of real
// time (so the ladder sheds its preset), whose second runs at full speed (so it keeps up
// and tries the preset again), and whose later runs fail as failure says: "gone", the
// second run removes the wrapper, so the restore's start fails (no such file); "exit",
// they exit at once, before any output; "hang", they run and send nothing.
func refusingRestoreFFmpeg(t *testing.T, ffmpeg, failure string) string {
	t.Helper()
	remove, later := refusal(failure)
	return countingFFmpeg(t, "1) exec "+ffmpeg+" -readrate 0.3 \"$@\";;\n2) "+remove+"exec "+ffmpeg+" \"$@\";;\n*) "+later+";;\n")
}

// refusal is how a refusing wrapper's last good run removes it ("gone") and how its
// later runs fail ("exit", "hang").
func refusal(failure string) (remove, later string) {
	later = "echo 'this ffmpeg refuses to run (test)' >&2; exit 1"
	switch failure {
	case "gone":
		remove = "rm -f \"$0\"; "
	case "hang":
		later = "exec sleep 60"
	}
	return remove, later
}

// countingFFmpeg writes an ffmpeg wrapper that counts its runs in $n and runs the shell
// case arms given for it.
func countingFFmpeg(t *testing.T, arms string) string {
	t.Helper()
	dir := t.TempDir()
	count, wrapper := filepath.Join(dir, "runs"), filepath.Join(dir, "ffmpeg")
	script := "#!/bin/sh\nn=$(cat " + count + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + count + "\ncase $n in\n" + arms + "esac\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper
}

// TestLadderKeepsTheLighterFFmpegWhenARestoreFails: a ladder that shed its preset tries
// the configured one again after keeping up, and the process for it fails before it takes
// over: it cannot be started (the binary is gone), it exits at once, or it hangs (nothing
// sent within handoverMax). The lighter process, which kept up, goes on: the same pid,
// still ultrafast, both rungs' video still coming. The viewers, told of a restore only
// once its process has taken over, are told nothing: for them the ladder still does less.
// Killing the lighter process, as a crash restart does, would leave the room without
// video for the back-off and a start, or for good while ffmpeg cannot run.
func TestLadderKeepsTheLighterFFmpegWhenARestoreFails(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 640, height: 360, fps: 30, seconds: 2, profile: "baseline", audio: true})
	for _, failure := range []string{"gone", "exit", "hang"} {
		t.Run(failure, func(t *testing.T) {
			l, top, low, told := restoringLadder(t, refusingRestoreFFmpeg(t, ffmpeg, failure), fx)
			defer feeding(t, l, fx)()
			next := func(what string) Shed {
				t.Helper()
				select {
				case s := <-told:
					return s
				case <-time.After(30 * time.Second):
					t.Fatalf("no %s within 30 s", what)
					return Shed{}
				}
			}
			if s := next("shed"); s.Kind != "preset" {
				t.Fatalf("first change %+v; want the preset shed", s)
			}
			first := l.FFmpegPID()
			var lighter int
			waitFor(t, 10*time.Second, "the lighter ffmpeg", func() bool { lighter = l.FFmpegPID(); return lighter != 0 && lighter != first })
			kept, tries := counterValue(handoverKept), counterValue(restores)
			waitFor(t, 30*time.Second, "a try at the preset", func() bool { return counterValue(restores) > tries })
			restoredAt := time.Now()
			waitFor(t, 10*time.Second, "the try called off", func() bool { return counterValue(handoverKept) > kept })
			select {
			case s := <-told:
				t.Fatalf("viewers told %+v; want nothing told of a restore whose process never took over", s)
			default:
			}
			if pid := l.FFmpegPID(); pid != lighter {
				t.Fatalf("ffmpeg pid %d after the failed restore; want %d, the lighter process, still running", pid, lighter)
			}
			cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(lighter) + "/cmdline")
			if err != nil || !strings.Contains(string(cmdline), "ultrafast") {
				t.Fatalf("the lighter ffmpeg: %v %q", err, cmdline)
			}
			if n := counterValue(handoverKept) - kept; n != 1 {
				t.Errorf("%v handovers kept; want 1", n)
			}
			videoGoesOn(t, "the failed restore", restoredAt, top, low, 300)
		})
	}
}

// TestLadderKeepsTheOverloadedFFmpegWhenAShedFails: a ladder that cannot keep up (the
// first ffmpeg reads at a third of real time) sheds its preset, and the lighter process
// fails before it takes over: it cannot be started (the binary is gone) or it exits at
// once. The old process goes on: the same pid, both rungs' video still coming, behind the
// host but not stopped (a crash restart stopped it for the back-off and a start, and for
// good while ffmpeg could not run). The lighter job is tried again at the next overload,
// and the viewers, told of the shed once, are not told again.
func TestLadderKeepsTheOverloadedFFmpegWhenAShedFails(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	fx := makeFixture(t, ffmpeg, fixtureSpec{width: 640, height: 360, fps: 30, seconds: 2, profile: "baseline", audio: true})
	for _, failure := range []string{"gone", "exit"} {
		t.Run(failure, func(t *testing.T) {
			remove, later := refusal(failure)
			l, top, low, told := restoringLadder(t, countingFFmpeg(t, "1) "+remove+"exec "+ffmpeg+" -readrate 0.3 \"$@\";;\n*) "+later+";;\n"), fx)
			defer feeding(t, l, fx)()
			first := 0
			waitFor(t, 5*time.Second, "the first ffmpeg", func() bool { first = l.FFmpegPID(); return first != 0 })
			kept, retries := counterValue(handoverKept), counterValue(shedRetries)
			select {
			case s := <-told:
				if s.Kind != "preset" {
					t.Fatalf("first change %+v; want the preset shed", s)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no shed within 30 s")
			}
			shedAt := time.Now()
			waitFor(t, 10*time.Second, "the failed shed called off", func() bool { return counterValue(handoverKept) > kept })
			if pid := l.FFmpegPID(); pid != first {
				t.Fatalf("ffmpeg pid %d after the failed shed; want %d, the old process, still running", pid, first)
			}
			videoGoesOn(t, "the failed shed", shedAt, top, low, 50) // at a third of real time
			waitFor(t, 30*time.Second, "the shed tried again", func() bool { return counterValue(shedRetries) > retries })
			waitFor(t, 10*time.Second, "the second try called off", func() bool { return counterValue(handoverKept) > kept+1 })
			if pid := l.FFmpegPID(); pid != first {
				t.Fatalf("ffmpeg pid %d after the second failed try; want %d", pid, first)
			}
			select {
			case s := <-told:
				t.Fatalf("viewers told %+v after the shed; want the one shed told once", s)
			default:
			}
		})
	}
}

// videoGoesOn waits for top's video to grow by n packets and low's by n/2 after a failed
// handover at at, and fails if either stopped for over a second around it (a crash
// restart's back-off and start; a frame is 33 ms, 110 ms at a third of real time).
func videoGoesOn(t *testing.T, what string, at time.Time, top, low *collector, n int) {
	t.Helper()
	topAt, lowAt := len(top.packets()), len(low.packets())
	waitFor(t, 10*time.Second, "both rungs' video after "+what, func() bool {
		return len(top.packets()) > topAt+n && len(low.packets()) > lowAt+n/2
	})
	for name, c := range map[string]*collector{"f": top, "q": low} {
		gap, ended := c.longestGap(at.Add(-time.Second), time.Now())
		t.Logf("longest gap in %s's packets around %s: %v, ending %v after it", name, what, gap, ended.Sub(at).Round(time.Millisecond))
		if gap > time.Second {
			t.Errorf("%s's video stopped %v around %s", name, gap, what)
		}
	}
}
