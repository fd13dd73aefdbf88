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
		out = append(out, c.next(ts))
	}
	return out, c
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
		checkNearInput(t, in, out, 3000)
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
	checkNearInput(t, in, out, 3000)
}

// TestCadenceDriftResync: a capture clock 0.3% fast or slow (a source that is 30 fps to
// within the snapping tolerance, but not exactly): the output stays on the 3000-tick grid
// and resyncs to the input whenever it has drifted half a frame away.
func TestCadenceDriftResync(t *testing.T) {
	for _, interval := range []float64{2991, 3009} {
		in := jittered(1800, interval, 45, 3)
		out, c := cadenceRun(in)
		if c.frame != 3000 {
			t.Fatalf("interval %v: frame %d, want 3000", interval, c.frame)
		}
		resyncs := 0
		for i := settle + 1; i < len(out); i++ {
			if d := out[i] - out[i-1]; d != 3000 {
				resyncs++
				if out[i] != in[i] {
					t.Fatalf("interval %v: frame %d: off-grid step %d that is not a resync (out %d, in %d)", interval, i, d, out[i], in[i])
				}
			}
		}
		// 9 ticks a frame: half a frame (1500) in ~167 frames, so ~10 resyncs in 1800.
		if resyncs < 5 || resyncs > 20 {
			t.Fatalf("interval %v: %d resyncs in %d frames, want about 10", interval, resyncs, len(in))
		}
		checkNearInput(t, in, out, 3000)
		t.Logf("interval %v: %d resyncs in %d frames", interval, resyncs, len(in))
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
	checkNearInput(t, in, out, c.frame)
}

// checkNearInput: the output never runs backwards and stays within half a frame of the
// input (audio stays in sync).
func checkNearInput(t *testing.T, in, out []int64, frame int64) {
	t.Helper()
	for i := range out {
		if i > 0 && out[i] <= out[i-1] {
			t.Fatalf("frame %d: output %d not after %d", i, out[i], out[i-1])
		}
		if d := out[i] - in[i]; d > frame/2 || d < -frame/2 {
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
