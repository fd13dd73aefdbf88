package transcode

import (
	"strings"
	"testing"
	"time"
)

// TestOverloadedAt: a process counts as overloaded once the host's frames have waited over
// OverloadLag for overloadFor in a row while it produces output, past the start-up grace;
// not while it catches up, while the host pauses, while it works through the backlog the
// host sent after a gap, when it produces nothing (a stall, restarted as such), when
// shedding is off, or when nothing is left to shed.
func TestOverloadedAt(t *testing.T) {
	sec := int64(time.Second)
	started := int64(1000 * sec)
	newSup := func() *supervisor {
		s := &supervisor{in: &input{}, overloadLag: time.Second,
			job: jobArgs{Cfg: Config{Preset: "veryfast"}, Rungs: []rung{{Rendition: Rendition{RID: "f"}}, {Rendition: Rendition{RID: "h"}}}}}
		s.in.gapEnded.Store(started) // the host's first frame
		return s
	}
	at := func(s *supervisor, now int64, lag time.Duration) bool {
		s.in.lag.Store(int64(lag))
		s.in.lastFeed.Store(now)
		s.activity.Store(now)
		_, over := s.overloadedAt(now, started)
		return over
	}

	s := newSup()
	if at(s, started+2*sec, 5*time.Second) {
		t.Error("overloaded within the start-up grace")
	}
	for i, want := range []bool{false, false, false, true} { // 6, 7, 8, 9 s: over the limit from 6 s
		if got := at(s, started+int64(6+i)*sec, 1500*time.Millisecond); got != want {
			t.Errorf("%d s after the lag passed the limit: overloaded %v, want %v", i, got, want)
		}
	}

	s = newSup()
	at(s, started+6*sec, 2*time.Second)
	at(s, started+7*sec, 2*time.Second)
	at(s, started+8*sec, 100*time.Millisecond) // caught up: the count starts over
	if at(s, started+9*sec, 2*time.Second) || at(s, started+11*sec, 2*time.Second) {
		t.Error("overloaded less than 3 s after it caught up")
	}

	s = newSup()
	s.in.lag.Store(int64(2 * time.Second))
	s.in.lastFeed.Store(started + 5*sec) // the host paused at 5 s
	for now := started + 6*sec; now <= started+10*sec; now += sec {
		if _, over := s.overloadedAt(now, started); over {
			t.Fatal("a paused host counted as a ladder behind")
		}
	}

	s = newSup()
	s.in.gapEnded.Store(started + 10*sec) // the host's backlog after a 4 s blip, at once
	for now := started + 10*sec; now < started+15*sec; now += sec {
		if at(s, now, 4*time.Second) {
			t.Fatal("the backlog after a gap in the host's input counted as overload")
		}
	}

	s = newSup()
	s.in.lag.Store(int64(5 * time.Second)) // ffmpeg stopped reading: its input waits
	s.activity.Store(started + 6*sec)      // and its last output was then
	for now := started + 7*sec; now <= started+12*sec; now += sec {
		s.in.lastFeed.Store(now)
		if _, over := s.overloadedAt(now, started); over {
			t.Fatal("a hung ffmpeg counted as overloaded, not stalled")
		}
	}

	s = newSup()
	s.overloadLag = -1
	for now := started + 6*sec; now <= started+12*sec; now += sec {
		if at(s, now, 10*time.Second) {
			t.Fatal("overloaded with shedding off")
		}
	}

	s = newSup()
	s.job.Cfg.Preset, s.job.Rungs = "ultrafast", s.job.Rungs[:1]
	for now := started + 6*sec; now <= started+12*sec; now += sec {
		if at(s, now, 10*time.Second) {
			t.Fatal("overloaded with nothing left to shed")
		}
	}
}

// TestShedOne: the preset goes to ultrafast first, then the top rungs one by one, down to
// one rung; the outputs of shed rungs are left without a process.
func TestShedOne(t *testing.T) {
	s := &supervisor{job: jobArgs{Cfg: Config{Preset: "veryfast"}, Rungs: []rung{
		{Rendition: Rendition{RID: "f", Height: 1080}, Width: 1920},
		{Rendition: Rendition{RID: "h", Height: 720}, Width: 1280},
		{Rendition: Rendition{RID: "q", Height: 480}, Width: 854},
	}}, videoOutputs: 3}
	done := make(chan struct{})
	for range 4 { // three rungs and the audio
		s.outputs = append(s.outputs, &output{src: newQueueSource(1, done)})
	}
	var steps []string
	for s.canShed() {
		what, kind := s.shedOne()
		steps = append(steps, kind+": "+what)
	}
	want := []string{"preset: switched to a faster x264 preset (ultrafast, was veryfast)", "rung: dropped its 1920x1080 rendition (f)", "rung: dropped its 1280x720 rendition (h)"}
	if strings.Join(steps, "; ") != strings.Join(want, "; ") {
		t.Fatalf("steps %q, want %q", steps, want)
	}
	if len(s.job.Rungs) != 1 || s.job.Rungs[0].RID != "q" || s.shed.rungs != 2 || s.job.Cfg.Preset != "ultrafast" {
		t.Fatalf("after shedding: %+v, %d rungs shed", s.job, s.shed.rungs)
	}
	for i, o := range s.outputs {
		ended := false
		select {
		case <-o.src.ended:
			ended = true
		default:
		}
		if ended != (i < 2) {
			t.Errorf("output %d ended: %v; want the shed rungs' tracks (f, h) ended, the others not", i, ended)
		}
	}
	s.job.Video = make([]rtpTarget, len(s.job.Rungs)) // the supervisor fills them per process
	if args := strings.Join(s.job.build(), " "); !strings.Contains(args, "scale=854:480") || strings.Contains(args, "1280") ||
		!strings.Contains(args, "-preset ultrafast") {
		t.Fatalf("ffmpeg's arguments after shedding: %s", args)
	}
}

// TestRestorableAt: a ladder that shed its preset tries it again once it has kept up with
// comfortably (lag under a quarter of OverloadLag) for RestoreAfter in a row, past the
// start-up grace; not while the lag is near the limit, while the host pauses, once a rung
// is shed too, when restoring is off, or when nothing was shed. Each try doubles the next
// wait, up to restoreMax; a shed after a try keeps that longer wait.
func TestRestorableAt(t *testing.T) {
	sec := int64(time.Second)
	started := int64(1000 * sec)
	newSup := func() *supervisor {
		s := &supervisor{in: &input{}, overloadLag: time.Second, shed: shedState{restoreAfter: 10 * time.Second},
			job: jobArgs{Cfg: Config{Preset: "veryfast"}, Rungs: []rung{{Rendition: Rendition{RID: "f"}}, {Rendition: Rendition{RID: "h"}}}}}
		s.outputs = []*output{{src: newQueueSource(1, make(chan struct{}))}, {src: newQueueSource(1, make(chan struct{}))}}
		s.in.gapEnded.Store(started)
		return s
	}
	at := func(s *supervisor, now int64, lag time.Duration) bool {
		s.in.lag.Store(int64(lag))
		s.in.lastFeed.Store(now)
		s.activity.Store(now)
		return s.restorableAt(now, started)
	}

	s := newSup()
	for now := started + 6*sec; now <= started+30*sec; now += sec {
		if at(s, now, 0) {
			t.Fatal("restorable with nothing shed")
		}
	}
	if what, kind := s.shedOne(); kind != "preset" || s.shed.preset != "veryfast" {
		t.Fatalf("shed %q (%s), kept preset %q", what, kind, s.shed.preset)
	}
	if at(s, started+2*sec, 0) {
		t.Error("restorable within the start-up grace")
	}
	for i := int64(0); i <= 10; i++ { // calm from 5 s: the try comes at 15 s
		if got, want := at(s, started+(5+i)*sec, 100*time.Millisecond), i == 10; got != want {
			t.Errorf("%d s calm: restorable %v, want %v", i, got, want)
		}
	}
	s.shed.calmSince = 0
	at(s, started+5*sec, 0)
	at(s, started+9*sec, 300*time.Millisecond) // over a quarter of the limit: the count starts over
	if at(s, started+12*sec, 0) || at(s, started+18*sec, 0) {
		t.Error("restorable less than RestoreAfter after the lag came near the limit")
	}
	s.shed.calmSince = 0
	s.in.lag.Store(0)
	s.in.lastFeed.Store(started + 5*sec) // the host paused
	for now := started + 6*sec; now <= started+30*sec; now += sec {
		s.activity.Store(now)
		if s.restorableAt(now, started) {
			t.Fatal("a paused host counted as headroom")
		}
	}

	what := s.restoreOne()
	if s.job.Cfg.Preset != "veryfast" || s.shed.preset != "" || s.shed.restoreAfter != 20*time.Second || !strings.Contains(what, "veryfast, was ultrafast") {
		t.Fatalf("after restoring (%q): preset %q, kept %q, next wait %v", what, s.job.Cfg.Preset, s.shed.preset, s.shed.restoreAfter)
	}
	for now := started + 6*sec; now <= started+60*sec; now += sec {
		if at(s, now, 0) {
			t.Fatal("restorable with the preset back")
		}
	}
	s.shedOne() // it could not carry it after all
	for i := int64(0); i <= 20; i++ {
		if got, want := at(s, started+(5+i)*sec, 0), i == 20; got != want {
			t.Errorf("second try, %d s calm: restorable %v, want %v (the wait doubled)", i, got, want)
		}
	}
	s.shed.restoreAfter = 50 * time.Minute
	s.restoreOne()
	if s.shed.restoreAfter != restoreMax {
		t.Errorf("next wait %v, want at most %v", s.shed.restoreAfter, restoreMax)
	}

	s = newSup()
	s.shedOne()
	s.shedOne() // and a rung: the machine is well short of CPU, and a rung is not taken back
	for now := started + 6*sec; now <= started+60*sec; now += sec {
		if at(s, now, 0) {
			t.Fatal("restorable with a rung shed")
		}
	}

	s = newSup()
	s.shed.restoreAfter = -1
	s.shedOne()
	for now := started + 6*sec; now <= started+60*sec; now += sec {
		if at(s, now, 0) {
			t.Fatal("restorable with restoring off")
		}
	}
}
