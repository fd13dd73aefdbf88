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
// variant 5 s later (housekeep). A ladder
// never takes work back: the machine that could not carry it may be busy for a while, and
// an oscillating ladder would restart ffmpeg, and change the picture, at every step.

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

// shedState is the supervisor's (its goroutine only).
type shedState struct {
	lagSince int64 // unix nanos since which the lag has been over the limit; 0 while under
	rungs    int   // top rungs shed
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
	if s.overloadLag <= 0 || !s.canShed() || !settled {
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

// Shed is one step the ladder took to keep up with its host (Ladder.OnShed).
type Shed struct {
	// What, for people, as what the ladder did: "switched to a faster x264 preset
	// (ultrafast, was veryfast)", "dropped its 1280x720 rendition (f)".
	What string
	// Kind: "preset" or "rung" (the label of glint_transcode_sheds_total).
	Kind string
	// Rungs is how many rungs the ladder still encodes.
	Rungs int
}

// shedOne makes the next process's job lighter by one step and says what it shed, and the
// metric's label for it.
func (s *supervisor) shedOne() (what, kind string) {
	s.shed.lagSince = 0
	if s.job.Cfg.Preset != "ultrafast" {
		what = fmt.Sprintf("switched to a faster x264 preset (ultrafast, was %s)", s.job.Cfg.Preset)
		s.job.Cfg.Preset = "ultrafast"
		return what, "preset"
	}
	top := s.job.Rungs[0]
	s.job.Rungs = s.job.Rungs[1:]
	s.outputs[s.shed.rungs].forget() // the old process, running on for the handover, still sends it
	s.outputs[s.shed.rungs].src.end()
	s.shed.rungs++
	return fmt.Sprintf("dropped its %dx%d rendition (%s)", top.Width, top.Height, top.RID), "rung"
}
