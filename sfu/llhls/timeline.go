package llhls

import (
	"time"
)

// sourceClock maps one source's RTP timestamps onto the stream's timeline: ticks since the
// stream's epoch (the capture time of its first keyframe) at the source's clock rate. The
// offset is fixed once per source from the room's media clock, so every layer and the
// audio share one timeline and PROGRAM-DATE-TIME is the frame's capture time.
type sourceClock struct {
	rate      int64
	started   bool
	last      uint32
	unwrapped int64
	offset    int64
}

func (c *sourceClock) start(ts uint32, capture, epoch time.Time, rate uint32) {
	c.rate, c.started, c.last, c.unwrapped = int64(rate), true, ts, 0
	c.offset = durationToTicks(capture.Sub(epoch), c.rate)
}

// pts is ts on the stream's timeline (wrap-aware).
func (c *sourceClock) pts(ts uint32) int64 {
	c.unwrapped += int64(int32(ts - c.last))
	c.last = ts
	return c.unwrapped + c.offset
}

func durationToTicks(d time.Duration, rate int64) int64 {
	return int64(d/time.Second)*rate + int64(d%time.Second)*rate/int64(time.Second)
}

func ticksToDuration(t, rate int64) time.Duration {
	return time.Duration(t/rate)*time.Second + time.Duration(t%rate)*time.Second/time.Duration(rate)
}

// cadence evens out a video source's frame timestamps. Browsers stamp frames with their
// capture time, a millisecond or two off the frame grid; parts must hold a whole number of
// frames and never exceed PART-TARGET, so a part of six 30 fps frames has to be exactly
// 200 ms, not 201. A timestamp within an eighth of a frame of the grid is put on it; the
// output never drifts more than half a frame from the input (it resyncs), so audio stays
// in sync. frame is the median of the recent intervals.
type cadence struct {
	frame   int64
	recent  [15]int64
	n       int
	started bool
	lastIn  int64
	lastOut int64
}

// minIntervals is how many frame intervals the estimate needs.
const minIntervals = 6

func (c *cadence) next(in int64) int64 {
	if !c.started {
		c.started, c.lastIn, c.lastOut = true, in, in
		return in
	}
	d := in - c.lastIn
	c.observe(d)
	out := c.lastOut + d
	if f := c.frame; f > 0 && d > 0 {
		k := (d + f/2) / f
		if off := d - k*f; k >= 1 && off <= f/8 && off >= -f/8 {
			out = c.lastOut + k*f
		}
		if diff := out - in; diff > f/2 || diff < -f/2 {
			out = in
		}
	}
	if out <= c.lastOut {
		out = c.lastOut + 1
	}
	c.lastIn, c.lastOut = in, out
	return out
}

func (c *cadence) observe(d int64) {
	if d <= 0 || d > 90000 {
		return
	}
	c.recent[c.n%len(c.recent)] = d
	c.n++
	if c.n < minIntervals {
		return
	}
	k := min(c.n, len(c.recent))
	var s [len(c.recent)]int64
	copy(s[:], c.recent[:k])
	// insertion sort: at most 15 values
	for i := 1; i < k; i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	c.frame = s[k/2]
}
