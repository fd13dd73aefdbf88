package transcode

import (
	"testing"
	"time"
)

// TestMungerSplicesRestarts: a new ffmpeg process (a new segment) starting at random numbers
// continues the output: next sequence number, timestamp advanced by the wall-clock gap.
func TestMungerSplicesRestarts(t *testing.T) {
	const clock = 90000
	var m munger
	at := int64(1e12)
	type step struct {
		seg, seq uint16
		ts       uint32
		after    time.Duration // since the previous packet
		wantSeq  uint16
		wantTS   uint32
	}
	for i, s := range []step{
		{seg: 1000, seq: 65534, ts: 4_294_960_000, wantSeq: 65534, wantTS: 4_294_960_000}, // first: kept as is
		{seg: 1000, seq: 65535, ts: 4_294_963_000, after: 33 * time.Millisecond, wantSeq: 65535, wantTS: 4_294_963_000},
		{seg: 1000, seq: 0, ts: 2_704, after: 33 * time.Millisecond, wantSeq: 0, wantTS: 2_704}, // both wrap
		{seg: 1000, seq: 1, ts: 2_704, wantSeq: 1, wantTS: 2_704},                               // same frame
		// ffmpeg restarted half a second later at random numbers.
		{seg: 2000, seq: 40000, ts: 123_456, after: 500 * time.Millisecond, wantSeq: 2, wantTS: 2_704 + 45_000},
		{seg: 2000, seq: 40001, ts: 126_456, after: 33 * time.Millisecond, wantSeq: 3, wantTS: 2_704 + 45_000 + 3_000},
		// and again at once (back-off floor): at least one tick later.
		{seg: 3000, seq: 7, ts: 99, wantSeq: 4, wantTS: 2_704 + 45_000 + 3_000 + 1},
	} {
		at += int64(s.after)
		seq, ts := m.rewrite(s.seg, s.seq, s.ts, at, clock)
		if seq != s.wantSeq || ts != s.wantTS {
			t.Fatalf("step %d: got seq %d ts %d, want %d %d", i, seq, ts, s.wantSeq, s.wantTS)
		}
	}
}

// TestParamsApply: SPS and PPS go in front of an IDR that lacks them (after an access unit
// delimiter), never in front of other frames, and in-band updates replace the stored ones.
func TestParamsApply(t *testing.T) {
	sps, pps := []byte{0x67, 1}, []byte{0x68, 2}
	aud, idr, slice, sei := []byte{0x09, 0xf0}, []byte{0x65, 9}, []byte{0x41, 9}, []byte{0x06, 5}
	p := params{sps: sps, pps: pps}
	check := func(name string, got, want [][]byte) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %x, want %x", name, got, want)
		}
		for i := range got {
			if string(got[i]) != string(want[i]) {
				t.Fatalf("%s: %x, want %x", name, got, want)
			}
		}
	}
	check("bare IDR", p.apply([][]byte{idr}), [][]byte{sps, pps, idr})
	check("IDR after AUD and SEI", p.apply([][]byte{aud, sei, idr}), [][]byte{aud, sps, pps, sei, idr})
	check("non-IDR", p.apply([][]byte{slice}), [][]byte{slice})
	check("IDR with its own", p.apply([][]byte{sps, pps, idr}), [][]byte{sps, pps, idr})
	sps2 := []byte{0x67, 3}
	check("new SPS in band", p.apply([][]byte{sps2, pps, idr}), [][]byte{sps2, pps, idr})
	check("then used", p.apply([][]byte{idr}), [][]byte{sps2, pps, idr})
	var empty params
	check("nothing known", empty.apply([][]byte{idr}), [][]byte{idr})
}

func TestTicks90k(t *testing.T) {
	for d, want := range map[time.Duration]int64{0: 0, time.Second: 90000, 33_333_333 * time.Nanosecond: 3000, time.Hour: 324_000_000} {
		if got := ticks90k(d); got != want {
			t.Errorf("ticks90k(%v) = %d, want %d", d, got, want)
		}
	}
}
