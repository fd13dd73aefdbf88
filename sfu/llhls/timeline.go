package llhls

import (
	"time"
)

// sourceClock maps one source's RTP timestamps onto the stream's timeline: ticks since the
// stream's epoch (the capture time of its first keyframe) at the source's clock rate. The
// offset is fixed once per source from the room's media clock, so every layer and the
// audio share one timeline and PROGRAM-DATE-TIME is the frame's capture time.
type sourceClock struct {
	rate    int64
	started bool
	rtp     rtpUnwrap
	offset  int64
}

func (c *sourceClock) start(ts uint32, capture, epoch time.Time, rate uint32) {
	c.rate, c.started, c.rtp = int64(rate), true, rtpUnwrap{}
	c.rtp.next(ts)
	c.offset = durationToTicks(capture.Sub(epoch), c.rate)
}

// pts is ts on the stream's timeline (wrap-aware).
func (c *sourceClock) pts(ts uint32) int64 {
	return c.rtp.next(ts) + c.offset
}

// rtpUnwrap counts a source's 32-bit RTP timestamps from its first, across wraps.
type rtpUnwrap struct {
	started bool
	last    uint32
	n       int64
}

// next is ts counted from the first timestamp given (negative for one before it).
func (u *rtpUnwrap) next(ts uint32) int64 {
	if u.started {
		u.n += u.step(ts)
	}
	u.started, u.last = true, ts
	return u.n
}

// step is how far ts is from the last timestamp given, without taking it.
func (u *rtpUnwrap) step(ts uint32) int64 { return int64(int32(ts - u.last)) }

func durationToTicks(d time.Duration, rate int64) int64 {
	return int64(d/time.Second)*rate + int64(d%time.Second)*rate/int64(time.Second)
}

func ticksToDuration(t, rate int64) time.Duration {
	return time.Duration(t/rate)*time.Second + time.Duration(t%rate)*time.Second/time.Duration(rate)
}

// cadence evens out a video source's frame timestamps. Browsers stamp frames with their
// capture time, off the frame grid by a millisecond or two (a camera) or by up to a
// quarter of a frame (a canvas); parts must hold a whole number of frames and never exceed
// PART-TARGET, so a part of six 30 fps frames has to be exactly 200 ms, not 201.
//
// Every output is the previous one plus a whole number of frames: the number nearest to
// the input's step, less the source's smoothed offset from the grid (lag, an average over
// about eight frames), so a dropped frame is a two-frame step and jitter alone moves
// nothing. A source a little slower than the grid (a 29.85 fps canvas taken for 30) gets
// one extra frame when its lag passes half a frame: inside a part that ends the part a
// frame early (gohlslib cuts at the first frame past PART-TARGET less half a frame), never
// late. A source a little faster gets one half-frame step when it is half a frame ahead: a
// shorter part, never a longer one. So the output stays within about half a frame (plus
// the jitter) of the input, and audio in sync.
//
// Snapping only inputs within an eighth of a frame of the grid, as first done, let a
// canvas's jitter through (a 13 ms late frame made a part 213 ms long); snapping each
// input to its nearest grid point alone let one early frame after a late one make a
// two-frame step and a short one in a row, a part 208 ms long.
//
// frame is the source's frame interval: the average over the last second or so (the
// span of the recent timestamps over the frames between them, dropped frames counted
// from the median interval), snapped to a standard frame rate's interval when it is
// within snapTolerance of one. The median interval alone, as first used, wandered a
// percent or two with a camera's jitter (3004, 2979 for 30 fps): six-frame parts came out
// 200.9 ms, longer than PART-TARGET, or the stream settled on five-frame parts.
type cadence struct {
	frame   int64
	snapped bool      // frame is a standard rate's
	recent  [15]int64 // the last intervals, for the median
	n       int       // intervals seen
	marks   [31]mark  // the last inputs with their frame numbers, for the average
	m       int       // marks recorded since the last reset
	count   int64     // frames since the first, dropped ones included
	started bool
	lastIn  int64
	lastOut int64
	lag     int64 // smoothed input - output, once frame is known
}

// mark is an input timestamp and its frame number.
type mark struct{ ts, frame int64 }

// minIntervals is how many frame intervals the estimate needs.
const minIntervals = 6

// next is in's output. g is where the variant's parts are (nil, or not on, before it
// runs): the cadence puts its extra and short steps where they keep parts within
// PART-TARGET, and clamps a step that would not (a frame the host dropped at a part's end).
func (c *cadence) next(in int64, g *partGrid) int64 {
	if !c.started {
		c.started, c.lastIn, c.lastOut = true, in, in
		c.marks[0], c.m = mark{ts: in}, 1
		return in
	}
	d := in - c.lastIn
	c.observe(in, d)
	out := c.lastOut + d
	if f := c.frame; f > 0 && d > 0 {
		k := max(roundDiv(in-c.lastOut-c.lag, f), 1)
		out = c.lastOut + k*f
		c.lag += (in - out - c.lag) / 8
		switch {
		case c.lag > f/2: // the source has fallen half a frame behind: one frame more
			out += f
			c.lag -= f
		case c.lag < -f/2 && k > 1: // half a frame ahead: one frame less
			out -= f
			c.lag += f
		case c.lag < -f/2 && g.closes(out-f/4):
			// Half a frame ahead: a quarter-frame shorter step, where it ends a part (the
			// next part starts on the new grid; half a frame could land on gohlslib's cut).
			out -= f / 4
			c.lag += f / 4
		}
		if y := g.clamp(out); y != out && y > c.lastOut {
			c.lag += out - y
			out = y
		}
	}
	if out <= c.lastOut {
		out = c.lastOut + 1
	}
	c.lastIn, c.lastOut = in, out
	return out
}

// partGrid follows where gohlslib cuts a variant's parts: the same rule (a segment at a
// keyframe SegmentMinDuration after the last, else a part at the first frame
// PartMinDuration after the last) on the same timestamps, in 90 kHz ticks.
type partGrid struct {
	on                  bool // the variant runs
	started             bool // start and segStart are set
	min, target, segMin int64
	start, segStart     int64
}

// gridMargin keeps the cadence's decisions clear of gohlslib's rounding (it compares
// durations): 1 ms.
const gridMargin = 90

func newPartGrid(partMin, target, segMin time.Duration) partGrid {
	ceil := func(d time.Duration) int64 { return (int64(d)*90000 + int64(time.Second) - 1) / int64(time.Second) }
	return partGrid{on: true, min: ceil(partMin), target: durationToTicks(target, 90000), segMin: ceil(segMin)}
}

// closes reports whether a frame at y surely ends the open part.
func (g *partGrid) closes(y int64) bool {
	return g == nil || !g.started || y-g.start >= g.min+gridMargin
}

// clamp is y, or the open part's end at PART-TARGET if y would end the part later.
func (g *partGrid) clamp(y int64) int64 {
	if g == nil || !g.started || y-g.start < g.min-gridMargin || y-g.start <= g.target {
		return y
	}
	return g.start + g.target
}

// advance takes the frame muxed next.
func (g *partGrid) advance(y int64, idr bool) {
	switch {
	case !g.on:
	case !g.started:
		g.started, g.start, g.segStart = true, y, y
	case idr && y-g.segStart >= g.segMin:
		g.start, g.segStart = y, y
	case y-g.start >= g.min:
		g.start = y
	}
}

func (c *cadence) observe(in, d int64) {
	if d <= 0 || d > 90000 {
		// A stall or a jump: the average restarts from here.
		c.marks[0], c.m = mark{ts: in, frame: c.count}, 1
		return
	}
	c.recent[c.n%len(c.recent)] = d
	c.n++
	median, spread := c.median()
	// An interval counts as two frames (one dropped) only from 1.75 frames: a canvas's
	// quarter-frame jitter makes 1.5-frame intervals, and counting those as two made the
	// average 3% short, off the standard rate.
	c.count += max((d+median/4)/median, 1)
	c.marks[c.m%len(c.marks)] = mark{ts: in, frame: c.count}
	c.m++
	if c.n < minIntervals || c.m <= minIntervals {
		return
	}
	oldest := c.marks[(c.m-min(c.m, len(c.marks)))%len(c.marks)]
	frames := c.count - oldest.frame
	avg := (in - oldest.ts + frames/2) / frames
	if c.snapped && near(avg, c.frame, 2*snapTolerance) {
		return // hysteresis
	}
	c.frame, c.snapped = snapFrame(avg, median, spread)
}

// median is the median of the recent intervals and the spread of their middle half.
func (c *cadence) median() (median, spread int64) {
	k := min(c.n, len(c.recent))
	var s [len(c.recent)]int64
	copy(s[:], c.recent[:k])
	// insertion sort: at most 15 values
	for i := 1; i < k; i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[k/2], s[3*k/4] - s[k/4]
}

// Frame intervals (90 kHz ticks) of the standard frame rates: 120, 60, 50, 48, 30, 25, 24,
// 20, 15, 12, 10 and 5 fps; and of the NTSC rates 119.88, 59.94, 29.97 and 23.976 (rounded).
var (
	standardFrames = [...]int64{750, 1500, 1800, 1875, 3000, 3600, 3750, 4500, 6000, 7500, 9000, 18000}
	ntscFrames     = [...]int64{751, 1502, 3003, 3754}
)

// snapTolerance is how far (per mille) an average may be from a standard interval and
// still be taken for it.
const snapTolerance = 20

// snapFrame maps an average frame interval to the nearest standard one within
// snapTolerance. An NTSC rate is taken only from exact timestamps (an encoder's: the
// middle half of the recent intervals within 2 ticks of each other), as a capture clock's
// jitter cannot tell 29.97 fps from 30 within a second, and a 30 fps camera taken for
// 29.97 would get five-frame parts.
func snapFrame(avg, median, spread int64) (frame int64, snapped bool) {
	if spread <= 2 {
		for _, f := range ntscFrames {
			if median >= f-1 && median <= f+1 {
				return f, true
			}
		}
	}
	best := int64(0)
	for _, f := range standardFrames {
		if near(avg, f, snapTolerance) && (best == 0 || abs(avg-f) < abs(avg-best)) {
			best = f
		}
	}
	if best == 0 {
		return avg, false
	}
	return best, true
}

// roundDiv is x/y rounded to the nearest integer (y > 0).
func roundDiv(x, y int64) int64 {
	if x < 0 {
		return -((-x + y/2) / y)
	}
	return (x + y/2) / y
}

// near reports whether x is within perMille of f.
func near(x, f, perMille int64) bool { return abs(x-f)*1000 <= f*perMille }

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
