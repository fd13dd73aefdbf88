package llhls

import (
	"math/rand/v2"
	"testing"
	"time"
)

// cadenceRun feeds in through a cadence and returns its output.
func cadenceRun(in []int64) (out []int64, c *cadence) {
	c = &cadence{}
	for _, ts := range in {
		out = append(out, c.next(ts, nil))
	}
	return out, c
}

// cadenceParts feeds in through a cadence with the part grid a variant would have, started
// when the stream would start it (variantCanStart), and returns the output, where the
// variant started and its part min duration.
func cadenceParts(in []int64) (out []int64, c *cadence, first int, partMin int64) {
	c = &cadence{}
	var g partGrid
	first = -1
	for i, ts := range in {
		if first < 0 && i > 0 && variantCanStart(c, i, out[i-1]-out[0]) {
			first = i
			d := partMinDuration(200*time.Millisecond, c.frame)
			g = newPartGrid(d, 200*time.Millisecond, time.Second)
			partMin = (int64(d)*90000 + int64(time.Second) - 1) / int64(time.Second)
		}
		o := c.next(ts, &g)
		g.advance(o, false)
		out = append(out, o)
	}
	return out, c, first, partMin
}

// jittered is n frames every interval ticks (a float: 3003.0 for 29.97 fps), each moved by
// up to ±jitter ticks, with the frames in drop left out.
func jittered(n int, interval float64, jitter int, seed uint64, drop ...int) []int64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	skip := map[int]bool{}
	for _, d := range drop {
		skip[d] = true
	}
	var out []int64
	for i := range n {
		if skip[i] {
			continue
		}
		ts := int64(float64(i)*interval + 0.5)
		if jitter > 0 {
			ts += int64(rng.IntN(2*jitter+1) - jitter)
		}
		out = append(out, 1_000_000+ts)
	}
	return out
}

// settle is how many frames the estimate may take before the output is exact.
const settle = minIntervals + 1

func TestCadenceJittery30fps(t *testing.T) {
	for seed := range uint64(20) {
		in := jittered(900, 3000, 90, seed) // ±1 ms, 30 s
		out, c := cadenceRun(in)
		if c.frame != 3000 {
			t.Fatalf("seed %d: frame %d, want 3000", seed, c.frame)
		}
		for i := settle + 1; i < len(out); i++ {
			if d := out[i] - out[i-1]; d != 3000 {
				t.Fatalf("seed %d: frame %d: output interval %d, want exactly 3000 (input %d)", seed, i, d, in[i]-in[i-1])
			}
		}
		checkNearInput(t, in, out, 3000, 2*90)
	}
}

func TestCadence2997fps(t *testing.T) {
	// An encoder's 29.97 fps (ffmpeg, OBS over RTMP): exact 1001/30000 s frames.
	in := jittered(900, 3003, 0, 1)
	out, c := cadenceRun(in)
	if c.frame != 3003 {
		t.Fatalf("frame %d, want 3003", c.frame)
	}
	for i := 1; i < len(out); i++ {
		if d := out[i] - out[i-1]; d != 3003 {
			t.Fatalf("frame %d: output interval %d, want 3003", i, d)
		}
	}
	if d := partMinDuration(200*time.Millisecond, c.frame); d > 5*33366666*time.Nanosecond {
		t.Fatalf("29.97 fps part min duration %v: six frames (200.2 ms) would exceed a 200 ms PART-TARGET", d)
	}
}

func TestCadenceDroppedFrame(t *testing.T) {
	in := jittered(300, 3000, 90, 7, 100, 200, 201)
	out, _ := cadenceRun(in)
	for i := settle + 1; i < len(out); i++ {
		d := out[i] - out[i-1]
		want := int64((in[i]-in[i-1]+1500)/3000) * 3000 // one, two or three frame intervals
		if d != want {
			t.Fatalf("frame %d: output interval %d, want %d (input %d)", i, d, want, in[i]-in[i-1])
		}
	}
	checkNearInput(t, in, out, 3000, 2*90)
}

// TestCadenceDriftResync: a capture clock 0.3% fast or slow (a source that is 30 fps to
// within the snapping tolerance, but not exactly): the output stays on the 3000-tick grid.
// A slow source gets a two-frame step whenever it has fallen half a frame behind; a fast
// one gets a quarter-frame shorter step whenever it is half a frame ahead.
func TestCadenceDriftResync(t *testing.T) {
	for _, interval := range []float64{2991, 3009} {
		in := jittered(1800, interval, 45, 3)
		out, c := cadenceRun(in)
		if c.frame != 3000 {
			t.Fatalf("interval %v: frame %d, want 3000", interval, c.frame)
		}
		resyncs := 0
		for i := settle + 1; i < len(out); i++ {
			d := out[i] - out[i-1]
			switch {
			case d == 3000:
				continue
			case interval > 3000 && d == 6000:
			case interval < 3000 && d == 2250:
			default:
				t.Fatalf("interval %v: frame %d: step %d (out %d, in %d); want 3000, or a resync", interval, i, d, out[i], in[i])
			}
			resyncs++
		}
		// 9 ticks a frame: half a frame (1500) in ~167 frames, then a frame (3000) at a
		// time for a slow source: ~5 resyncs in 1800; a quarter of a frame at a time, ~20,
		// for a fast one.
		if resyncs < 3 || resyncs > 25 {
			t.Fatalf("interval %v: %d resyncs in %d frames, want 5 to 20", interval, resyncs, len(in))
		}
		// The lag is an average (it trails the drift by ~8 frames' worth, 72 ticks) and a
		// quarter-frame step waits for a part's end (up to 6 frames, 54 ticks).
		checkNearInput(t, in, out, 3000, 45+72+54+30)
		t.Logf("interval %v: %d resyncs in %d frames", interval, resyncs, len(in))
	}
}

// TestCadencePartsWithinTarget: what the cadence is for. A canvas in Chromium captures at
// about 29.85 fps with up to a quarter of a frame of jitter; cut into parts the way gohlslib
// cuts them (at the first frame at or past partMinDuration), no part is longer than the
// 200 ms PART-TARGET, and parts are not cut short more than resyncs need. Snapping only
// frames near the grid made 16 parts over 200 ms in 30 s of such a source.
func TestCadencePartsWithinTarget(t *testing.T) {
	const target = 200 * time.Millisecond
	for seed := range uint64(10) {
		for _, interval := range []float64{3000, 3015, 2985, 3003} {
			in := jittered(1800, interval, 750, seed)
			out, c, first, partMin := cadenceParts(in)
			if first < 0 || first > 31 {
				t.Fatalf("seed %d, interval %v: the variant started at frame %d", seed, interval, first)
			}
			// gohlslib: a part ends at the first frame partMin or more after its start.
			start, short := out[first], 0
			for _, ts := range out[first+1:] {
				if ts-start < partMin {
					continue
				}
				if d := ticksToDuration(ts-start, 90000); d > target {
					t.Fatalf("seed %d, interval %v (frame %d): a part of %v, longer than PART-TARGET %v", seed, interval, c.frame, d, target)
				} else if d < target*80/100 {
					short++
				}
				start = ts
			}
			checkNearInput(t, in, out, c.frame, 2*750)
			if short > 20 {
				t.Errorf("seed %d, interval %v: %d parts under 80%% of PART-TARGET", seed, interval, short)
			}
		}
	}
}

// TestCadenceIrregular: a source far from any standard rate (a screen share at 7.3 fps)
// keeps its own timestamps' median interval.
func TestCadenceIrregular(t *testing.T) {
	in := jittered(200, 90000/7.3, 0, 1)
	out, c := cadenceRun(in)
	if c.frame < 12328 || c.frame > 12330 {
		t.Fatalf("frame %d, want ~12329", c.frame)
	}
	checkNearInput(t, in, out, c.frame, 0)
}

// checkNearInput: the output never runs backwards and stays within half a frame of the
// input, give or take the input's jitter (audio stays in sync).
func checkNearInput(t *testing.T, in, out []int64, frame, jitter int64) {
	t.Helper()
	for i := range out {
		if i > 0 && out[i] <= out[i-1] {
			t.Fatalf("frame %d: output %d not after %d", i, out[i], out[i-1])
		}
		if d := out[i] - in[i]; d > frame/2+jitter || d < -frame/2-jitter {
			t.Fatalf("frame %d: output %d is %d ticks from the input %d", i, out[i], d, in[i])
		}
	}
}

func TestPartMinDuration(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	for _, tc := range []struct {
		target     time.Duration
		frameTicks int64
		frames     int // parts hold this many frames
	}{
		{200 * time.Millisecond, 3000, 6},  // 30 fps: 6 frames = exactly 200 ms
		{200 * time.Millisecond, 3003, 5},  // 29.97: 6 frames would be 200.2 ms
		{200 * time.Millisecond, 3600, 5},  // 25 fps
		{200 * time.Millisecond, 1500, 12}, // 60 fps
		{200 * time.Millisecond, 9000, 2},  // 10 fps
		{200 * time.Millisecond, 18000, 1}, // 5 fps: one frame a part
		{200 * time.Millisecond, 27000, 1}, // 3.3 fps: a frame is longer than the target
		{500 * time.Millisecond, 3000, 15},
		{100 * time.Millisecond, 3000, 3},
	} {
		got := partMinDuration(tc.target, tc.frameTicks)
		frame := ticksToDuration(tc.frameTicks, 90000)
		// gohlslib closes a part at the first frame boundary at or past the minimum.
		frames := int((got + frame - 1) / frame)
		if frames != tc.frames {
			t.Errorf("target %v, frame %v: min %v closes parts after %d frames, want %d", tc.target, frame, got, frames, tc.frames)
		}
		if tc.frames > 1 && time.Duration(tc.frames)*frame > tc.target {
			t.Errorf("target %v, frame %v: %d frames exceed the target", tc.target, frame, tc.frames)
		}
		if got <= time.Duration(tc.frames-1)*frame || got > time.Duration(tc.frames)*frame {
			t.Errorf("target %v, frame %v: min %v not within (%d, %d] frames", tc.target, frame, got, tc.frames-1, tc.frames)
		}
	}
	if got := partMinDuration(200*time.Millisecond, 0); got != ms(170) {
		t.Errorf("unknown frame rate: %v, want 85%% of the target (170ms)", got)
	}
}
