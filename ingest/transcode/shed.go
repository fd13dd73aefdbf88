package transcode

import (
	"fmt"
	"time"
)

// Shedding: a ladder that cannot keep up with its host on this machine (too many rungs, too
// slow a preset, a busy box) falls ever further behind: viewers get the picture later and
// later and at a falling frame rate, then the input queue overflows and video is dropped
// until the host's next keyframe (docs/BENCHMARKS.md: 3.3 s behind and 42 of 60 fps after
// 50 s). So the supervisor watches how long the host's frames wait for ffmpeg (input.lag)
// and, when they wait over OverloadLag for overloadFor while ffmpeg still produces output
// (one that produces none is a stall, restarted as before), restarts ffmpeg with less work,
// one step at a time:
// first the ultrafast preset (x264's cheapest, for every rung), then without the top rung,
// down to one rung. The lighter process starts beside the old one, which goes on with the
// backlog it has, and each output switches at the new one's first packet (make before
// break, process.go; the new process is given the host's input since its last keyframe,
// replay.go, and starts at the newest frame): the picture goes on. Killing the old process
// first, as the ladder did, stopped the picture 0.4-0.6 s in a browser. A shed rung's
// track ends at once, so its layer leaves the stage and its viewers' allocators move them
// to the next layer down (the SDK's `layer` event tells the page); LL-HLS drops that
// variant 5 s later (housekeep).
//
// A ladder that shed only its preset takes it back once it has kept up comfortably for
// RestoreAfter (the host's frames waiting under a quarter of OverloadLag the whole time):
// the load that made it fall behind (another host, a backup) may have gone. That shows the
// lighter process keeps up, not that the heavier one will, so it is a try, the same make-before-break restart the other way: if the machine still cannot
// carry it, the ladder falls behind and sheds again, and the next try waits twice as long
// (at most restoreMax), so a machine that stays short of CPU changes the picture rarely.
// A try whose process cannot start, or ends before it takes over, is called off: the
// lighter process, which kept up, goes on (process.go, handoverFailed). So does a shed's
// old process when the lighter one cannot start or ends before it takes over: behind
// beats frozen; the lighter job is tried again at the next overload.
// A dropped rung is not taken back: its track ended and its layer left the stage, and
// bringing it back would mean a new track for every viewer. The old process of either
// change is fed the host's input until its successor takes over (handoverfeed.go).

// overloadFor is how long the lag must stay over OverloadLag: a keyframe or a moment of
// load elsewhere passes.
const overloadFor = 3 * time.Second

// overloadGrace is how long a process runs before its lag counts (ffmpeg starting and
// probing its input holds it back for a moment), and how long after a gap in the host's
// input: an encoder sends the backlog of a network blip at once, which a ladder with
// headroom works through.
const overloadGrace = 5 * time.Second

// inputGap is a pause in the host's input: one longer is a host that paused or a network
// blip (slides at 1 fps without audio still send more often).
const inputGap = 2 * time.Second

// producing is how recent ffmpeg's last output must be for its lag to count as overload:
// a process that produces nothing is a stall (stalledAt), not a ladder too heavy.
const producing = time.Second

// restoreMax bounds the wait between two tries at taking the preset back.
const restoreMax = time.Hour

// shedState is the supervisor's (its goroutine only).
type shedState struct {
	lagSince int64 // unix nanos since which the lag has been over the limit; 0 while under
	rungs    int   // top rungs shed

	preset       string        // the configured preset while a faster one runs instead; "" when not shed
	restoring    string        // the faster preset a restore left, until its process takes over; "" when none is under way
	untold       *Shed         // the restore under way, told once its process takes over
	retry        bool          // the running process is a shed's old one whose successor failed: the job is lighter than it
	calmSince    int64         // unix nanos since which the lag has been well under the limit; 0 while not
	restoreAfter time.Duration // calm needed before the next try at the preset; negative: never
}

// canShed reports whether a lighter job is left.
func (s *supervisor) canShed() bool {
	return len(s.job.Rungs) > 0 && (s.job.Cfg.Preset != "ultrafast" || len(s.job.Rungs) > 1)
}

// overloadedAt reports whether the running process (started at started) cannot keep up,
// and how far behind it is.
func (s *supervisor) overloadedAt(now, started int64) (time.Duration, bool) {
	lag := s.in.lagAt(now)
	settled := now-started >= int64(overloadGrace) && now-s.in.gapEnded.Load() >= int64(overloadGrace)
	if s.overloadLag <= 0 || !(s.canShed() || s.shed.retry) || !settled {
		s.shed.lagSince = 0
		return lag, false
	}
	if lag < s.overloadLag || now-s.in.lastFeed.Load() > int64(inputGap) || now-s.activity.Load() > int64(producing) {
		s.shed.lagSince = 0 // caught up, the host paused, or ffmpeg hangs (a stall)
		return lag, false
	}
	if s.shed.lagSince == 0 {
		s.shed.lagSince = now
	}
	return lag, now-s.shed.lagSince >= int64(overloadFor)
}

// restorableAt reports whether the running process (started at started), which runs a
// shed preset, has kept up comfortably for long enough to try the configured one.
func (s *supervisor) restorableAt(now, started int64) bool {
	if s.shed.preset == "" || s.shed.rungs > 0 || s.shed.restoreAfter <= 0 || s.shed.retry {
		return false
	}
	settled := now-started >= int64(overloadGrace) && now-s.in.gapEnded.Load() >= int64(overloadGrace)
	calm := settled && s.in.lagAt(now) < s.overloadLag/4 &&
		now-s.in.lastFeed.Load() <= int64(inputGap) && now-s.activity.Load() <= int64(producing)
	if !calm {
		s.shed.calmSince = 0 // a host that pauses shows nothing about the machine's headroom
		return false
	}
	if s.shed.calmSince == 0 {
		s.shed.calmSince = now
	}
	return now-s.shed.calmSince >= int64(s.shed.restoreAfter)
}

// restoreOne gives the next process the configured preset back and says so; the try
// after this one waits twice as long.
func (s *supervisor) restoreOne() string {
	what := fmt.Sprintf("went back to its x264 preset (%s, was %s) after keeping up for %v", s.shed.preset, s.job.Cfg.Preset, s.shed.restoreAfter)
	s.shed.restoring = s.job.Cfg.Preset
	s.job.Cfg.Preset, s.shed.preset = s.shed.preset, ""
	s.shed.calmSince, s.shed.lagSince = 0, 0
	s.shed.restoreAfter = max(s.shed.restoreAfter, min(2*s.shed.restoreAfter, restoreMax))
	return what
}

// unrestore takes the faster preset back after a restore whose process failed before it
// took over (process.go: the lighter process goes on), and says so for the log; viewers,
// never told of the restore, still know the ladder does less. The next try waits the
// doubled time restoreOne set.
func (s *supervisor) unrestore() string {
	what := fmt.Sprintf("kept its faster x264 preset (%s): going back to %s failed", s.shed.restoring, s.job.Cfg.Preset)
	s.shed.preset, s.job.Cfg.Preset, s.shed.restoring, s.shed.untold = s.job.Cfg.Preset, s.shed.restoring, "", nil
	s.shed.calmSince, s.shed.lagSince = 0, 0
	return what
}

// Shed is one step the ladder took to keep up with its host, or back (Ladder.OnShed).
type Shed struct {
	// What, for people, as what the ladder did: "switched to a faster x264 preset
	// (ultrafast, was veryfast)", "dropped its 1280x720 rendition (f)".
	What string
	// Kind: "preset" or "rung" (as labelled in glint_transcode_sheds_total), or "restore":
	// the ladder took the preset back and does all it was configured to do again.
	Kind string
	// Rungs is how many rungs the ladder still encodes.
	Rungs int
}

// Reduced reports whether the ladder still does less than it was configured to.
func (s Shed) Reduced() bool { return s.Kind != "restore" }

// shedOne makes the next process's job lighter by one step and says what it shed, and the
// metric's label for it.
func (s *supervisor) shedOne() (what, kind string) {
	s.shed.lagSince, s.shed.calmSince = 0, 0
	if s.job.Cfg.Preset != "ultrafast" {
		what = fmt.Sprintf("switched to a faster x264 preset (ultrafast, was %s)", s.job.Cfg.Preset)
		s.shed.preset, s.job.Cfg.Preset = s.job.Cfg.Preset, "ultrafast"
		return what, "preset"
	}
	top := s.job.Rungs[0]
	s.job.Rungs = s.job.Rungs[1:]
	s.outputs[s.shed.rungs].forget() // the old process, running on for the handover, still sends it
	s.outputs[s.shed.rungs].src.end()
	s.shed.rungs++
	return fmt.Sprintf("dropped its %dx%d rendition (%s)", top.Width, top.Height, top.RID), "rung"
}
