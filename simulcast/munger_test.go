package simulcast

import (
	"fmt"
	"testing"
)

const ms = int64(1e6) // arrival times are unix nanos

// step is one call on a Munger. For op "pkt" it is Rewrite(seq, ts, at, rate) and the want
// fields are checked; "skip" is Skip(seq); "switch" is Switch().
type step struct {
	op      string
	seq     uint16
	ts      uint32
	at      int64 // nanos
	wantSeq uint16
	wantTS  uint32
	wantOK  bool
}

func pkt(seq uint16, ts uint32, at int64, wantSeq uint16, wantTS uint32) step {
	return step{op: "pkt", seq: seq, ts: ts, at: at, wantSeq: wantSeq, wantTS: wantTS, wantOK: true}
}

func drop(seq uint16, ts uint32, at int64) step {
	return step{op: "pkt", seq: seq, ts: ts, at: at}
}

func skip(seq uint16) step { return step{op: "skip", seq: seq} }

func switchSource() step { return step{op: "switch"} }

// run applies steps to m, checking every Rewrite and that InputSeq inverts each accepted one.
func run(t *testing.T, m *Munger, rate uint32, steps []step) {
	t.Helper()
	for i, s := range steps {
		switch s.op {
		case "switch":
			m.Switch()
		case "skip":
			m.Skip(s.seq)
		case "pkt":
			seq, ts, ok := m.Rewrite(s.seq, s.ts, s.at, rate)
			if ok != s.wantOK || (ok && (seq != s.wantSeq || ts != s.wantTS)) {
				t.Fatalf("step %d: Rewrite(%d, %d) = (%d, %d, %v), want (%d, %d, %v)",
					i, s.seq, s.ts, seq, ts, ok, s.wantSeq, s.wantTS, s.wantOK)
			}
			if !ok {
				continue
			}
			if in, ok := m.InputSeq(seq); !ok || in != s.seq {
				t.Fatalf("step %d: InputSeq(%d) = (%d, %v), want (%d, true)", i, seq, in, ok, s.seq)
			}
			if got := m.OutputTS(s.ts); got != ts {
				t.Fatalf("step %d: OutputTS(%d) = %d, want %d", i, s.ts, got, ts)
			}
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
	}
}

func TestMungerRewrite(t *testing.T) {
	tests := []struct {
		name  string
		rate  uint32
		steps []step
	}{
		{
			name: "first source keeps its numbering",
			rate: 90000,
			steps: []step{
				pkt(1000, 5000, 0, 1000, 5000),
				pkt(1001, 5000, 1*ms, 1001, 5000),
				pkt(1002, 8000, 33*ms, 1002, 8000),
			},
		},
		{
			name: "switch continues seq and advances ts by wall clock",
			rate: 90000,
			steps: []step{
				pkt(1000, 5000, 0, 1000, 5000),
				pkt(1001, 8000, 33*ms, 1001, 8000),
				switchSource(),
				// 100 ms after the packet that carried ts 8000: 9000 ticks at 90 kHz.
				pkt(40000, 123456, 133*ms, 1002, 17000),
				pkt(40001, 123456, 134*ms, 1003, 17000),
				pkt(40002, 126456, 166*ms, 1004, 20000),
			},
		},
		{
			name: "elapsed is measured from the first packet carrying the last ts",
			rate: 90000,
			steps: []step{
				pkt(1, 1000, 0, 1, 1000),
				pkt(2, 1000, 10*ms, 2, 1000), // same frame, later packet
				pkt(3, 1000, 20*ms, 3, 1000),
				switchSource(),
				pkt(900, 0, 50*ms, 4, 1000+50*90),
			},
		},
		{
			name: "switch with no elapsed time advances ts by one tick",
			rate: 90000,
			steps: []step{
				pkt(10, 100, 5*ms, 10, 100),
				switchSource(),
				pkt(20, 99999, 5*ms, 11, 101),
			},
		},
		{
			name: "switch with a clock that went backwards advances ts by one tick",
			rate: 90000,
			steps: []step{
				pkt(10, 100, 5*ms, 10, 100),
				switchSource(),
				pkt(20, 99999, 1*ms, 11, 101),
			},
		},
		{
			name: "switch under one tick of elapsed time advances ts by one tick",
			rate: 90000,
			steps: []step{
				pkt(10, 100, 0, 10, 100),
				switchSource(),
				pkt(20, 7, 15_000, 11, 101), // 15 µs = 1.35 ticks, rounds down to 1
			},
		},
		{
			name: "switch with unknown clock rate advances ts by one tick",
			rate: 0,
			steps: []step{
				pkt(10, 100, 0, 10, 100),
				switchSource(),
				pkt(20, 7, 1000*ms, 11, 101),
			},
		},
		{
			name: "audio clock rate",
			rate: 48000,
			steps: []step{
				pkt(7, 960, 0, 7, 960),
				pkt(8, 1920, 20*ms, 8, 1920),
				switchSource(),
				pkt(300, 48000, 40*ms, 9, 2880),
			},
		},
		{
			name: "three sources in a row",
			rate: 90000,
			steps: []step{
				pkt(100, 0, 0, 100, 0),
				switchSource(),
				pkt(5000, 777, 10*ms, 101, 900),
				pkt(5001, 3777, 43*ms, 102, 3900),
				switchSource(),
				pkt(60000, 1, 53*ms, 103, 4800),
				pkt(60001, 2, 54*ms, 104, 4801),
			},
		},
		{
			name: "switch back to a source the stream had before",
			rate: 90000,
			steps: []step{
				pkt(100, 1000, 0, 100, 1000),
				pkt(101, 1000, 0, 101, 1000),
				switchSource(),
				pkt(7000, 50, 10*ms, 102, 1900),
				switchSource(),
				pkt(105, 2800, 20*ms, 103, 2800),
				drop(104, 2800, 21*ms), // the first source's packet before its new keyframe
			},
		},
		{
			name: "out-of-order packets within a source map consistently",
			rate: 90000,
			steps: []step{
				pkt(10, 900, 0, 10, 900),
				pkt(12, 900, 1*ms, 12, 900),
				pkt(11, 900, 2*ms, 11, 900),
				pkt(15, 3900, 3*ms, 15, 3900),
				pkt(13, 900, 4*ms, 13, 900),
				pkt(14, 3900, 5*ms, 14, 3900),
				pkt(12, 900, 6*ms, 12, 900), // duplicate
				pkt(16, 3900, 7*ms, 16, 3900),
			},
		},
		{
			name: "out-of-order packets after a switch map consistently",
			rate: 90000,
			steps: []step{
				pkt(10, 900, 0, 10, 900),
				switchSource(),
				pkt(500, 0, 10*ms, 11, 1800),
				pkt(503, 0, 11*ms, 14, 1800),
				pkt(502, 0, 12*ms, 13, 1800),
				pkt(501, 0, 13*ms, 12, 1800),
				pkt(500, 0, 14*ms, 11, 1800), // duplicate of the keyframe
			},
		},
		{
			name: "packets older than the switch point are dropped",
			rate: 90000,
			steps: []step{
				pkt(10, 900, 0, 10, 900),
				pkt(11, 900, 1*ms, 11, 900),
				switchSource(),
				pkt(500, 0, 10*ms, 12, 1800),
				drop(499, 0, 11*ms),
				drop(498, 0, 11*ms),
				drop(400, 0, 11*ms),
				pkt(501, 0, 12*ms, 13, 1800),
				drop(499, 0, 13*ms),
				pkt(502, 3000, 14*ms, 14, 4800),
			},
		},
		{
			name: "a dropped packet does not move the output",
			rate: 90000,
			steps: []step{
				pkt(10, 900, 0, 10, 900),
				switchSource(),
				pkt(500, 0, 10*ms, 11, 1800),
				drop(499, 9999999, 11*ms),
				switchSource(),
				// Elapsed is from the keyframe at 10 ms, the dropped packet's ts is ignored.
				pkt(7, 0, 20*ms, 12, 2700),
			},
		},
		{
			name: "skip of in-order padding closes the gap",
			rate: 90000,
			steps: []step{
				pkt(10, 900, 0, 10, 900),
				skip(11),
				pkt(12, 900, 1*ms, 11, 900),
				skip(13),
				skip(14),
				skip(15),
				pkt(16, 3900, 2*ms, 12, 3900),
				pkt(17, 3900, 3*ms, 13, 3900),
			},
		},
		{
			name: "packets before a skip keep their slots",
			rate: 90000,
			steps: []step{
				pkt(10, 900, 0, 10, 900),
				pkt(12, 900, 1*ms, 12, 900), // 11 is late
				skip(13),
				pkt(14, 900, 2*ms, 13, 900),
				pkt(11, 900, 3*ms, 11, 900),
				skip(15),
				skip(16),
				pkt(17, 900, 4*ms, 14, 900),
				pkt(12, 900, 5*ms, 12, 900), // duplicate from before both skips
				pkt(14, 900, 6*ms, 13, 900), // duplicate from between them
			},
		},
		{
			name: "skip of out-of-order padding leaves a gap",
			rate: 90000,
			steps: []step{
				pkt(10, 900, 0, 10, 900),
				skip(12), // 11 not seen yet: cannot be closed up
				pkt(11, 900, 1*ms, 11, 900),
				pkt(13, 900, 2*ms, 13, 900),
				skip(13), // already forwarded
				skip(12), // older than the newest
				pkt(14, 900, 3*ms, 14, 900),
			},
		},
		{
			name: "skip before the first packet is ignored",
			rate: 90000,
			steps: []step{
				skip(9),
				pkt(10, 900, 0, 10, 900),
				pkt(11, 900, 0, 11, 900),
			},
		},
		{
			name: "skip between switch and the new source's first packet is ignored",
			rate: 90000,
			steps: []step{
				pkt(10, 900, 0, 10, 900),
				switchSource(),
				skip(499),
				skip(11),
				pkt(500, 0, 10*ms, 11, 1800),
				pkt(501, 0, 10*ms, 12, 1800),
			},
		},
		{
			name: "skips carry across a switch",
			rate: 90000,
			steps: []step{
				pkt(10, 900, 0, 10, 900),
				skip(11),
				skip(12),
				switchSource(),
				pkt(500, 0, 10*ms, 11, 1800),
				skip(501),
				pkt(502, 0, 11*ms, 12, 1800),
				drop(10, 900, 12*ms),
			},
		},
		{
			name: "sequence wraparound within the first source",
			rate: 90000,
			steps: []step{
				pkt(65534, 900, 0, 65534, 900),
				pkt(65535, 900, 1*ms, 65535, 900),
				pkt(1, 900, 2*ms, 1, 900),
				pkt(0, 900, 3*ms, 0, 900),
				pkt(65535, 900, 4*ms, 65535, 900),
				skip(2),
				pkt(3, 900, 5*ms, 2, 900),
			},
		},
		{
			name: "sequence wraparound of the output across a switch",
			rate: 90000,
			steps: []step{
				pkt(65534, 900, 0, 65534, 900),
				pkt(65535, 900, 1*ms, 65535, 900),
				switchSource(),
				pkt(1000, 0, 1*ms, 0, 990),
				pkt(1001, 0, 2*ms, 1, 990),
			},
		},
		{
			name: "sequence wraparound of the input at the switch point",
			rate: 90000,
			steps: []step{
				pkt(100, 900, 0, 100, 900),
				switchSource(),
				pkt(65535, 0, 0, 101, 901),
				pkt(1, 0, 1*ms, 103, 901),
				pkt(0, 0, 2*ms, 102, 901),
				drop(65534, 0, 3*ms),
				skip(2),
				pkt(3, 0, 4*ms, 104, 901),
			},
		},
		{
			name: "timestamp wraparound within a source",
			rate: 90000,
			steps: []step{
				pkt(1, 0xffffff00, 0, 1, 0xffffff00),
				pkt(2, 0x00000100, 1*ms, 2, 0x00000100),
				pkt(3, 0x00000200, 2*ms, 3, 0x00000200),
			},
		},
		{
			name: "timestamp wraparound of the output across a switch",
			rate: 90000,
			steps: []step{
				pkt(1, 0xffffff00, 0, 1, 0xffffff00),
				switchSource(),
				pkt(50, 1000, 10*ms, 2, 644), // 0xffffff00 + 900, wrapped
				pkt(51, 4000, 43*ms, 3, 3644),
			},
		},
		{
			name: "timestamp wraparound of the input after a switch",
			rate: 90000,
			steps: []step{
				pkt(1, 5000, 0, 1, 5000),
				switchSource(),
				pkt(50, 0xfffffc18, 10*ms, 2, 5900),
				pkt(51, 0x00000bb8, 43*ms, 3, 5900+4000),
			},
		},
		{
			name: "a late packet with an older ts does not move the splice point",
			rate: 90000,
			steps: []step{
				pkt(1, 9000, 0, 1, 9000),
				pkt(3, 12000, 33*ms, 3, 12000),
				pkt(2, 9000, 40*ms, 2, 9000),
				switchSource(),
				pkt(70, 0, 43*ms, 4, 12900),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Munger
			run(t, &m, tt.rate, tt.steps)
		})
	}
}

func TestMungerZeroValue(t *testing.T) {
	var m Munger
	if m.Started() {
		t.Fatal("zero Munger reports started")
	}
	if in, ok := m.InputSeq(0); ok {
		t.Fatalf("InputSeq on a zero Munger = (%d, true)", in)
	}
	m.Switch() // harmless before the first packet
	if seq, ts, ok := m.Rewrite(42, 4242, 0, 90000); !ok || seq != 42 || ts != 4242 {
		t.Fatalf("first Rewrite = (%d, %d, %v), want (42, 4242, true)", seq, ts, ok)
	}
	if !m.Started() {
		t.Fatal("not started after a packet")
	}
	if seq, ts := m.LastOut(); seq != 42 || ts != 4242 {
		t.Fatalf("LastOut = (%d, %d), want (42, 4242)", seq, ts)
	}
}

func TestMungerLastOut(t *testing.T) {
	var m Munger
	m.Rewrite(10, 1000, 0, 90000)
	m.Rewrite(12, 4000, 33*ms, 90000)
	m.Rewrite(11, 1000, 34*ms, 90000) // late: neither field goes back
	m.Skip(13)
	if seq, ts := m.LastOut(); seq != 12 || ts != 4000 {
		t.Fatalf("LastOut = (%d, %d), want (12, 4000)", seq, ts)
	}
	m.Switch()
	m.Rewrite(500, 0, 43*ms, 90000)
	if seq, ts := m.LastOut(); seq != 13 || ts != 4900 {
		t.Fatalf("LastOut after switch = (%d, %d), want (13, 4900)", seq, ts)
	}
}

// nack is one InputSeq query after a sequence of steps.
type nack struct {
	out    uint16
	wantIn uint16
	wantOK bool
}

func TestMungerInputSeq(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		nacks []nack
	}{
		{
			name: "first source",
			steps: []step{
				pkt(100, 0, 0, 100, 0),
				pkt(101, 0, 0, 101, 0),
				pkt(103, 0, 0, 103, 0), // 102 lost
			},
			nacks: []nack{
				{100, 100, true}, {101, 101, true}, {102, 102, true}, {103, 103, true},
				{99, 0, false},  // before the stream
				{104, 0, false}, // not sent yet
				{60000, 0, false},
			},
		},
		{
			name: "after skips",
			steps: []step{
				pkt(100, 0, 0, 100, 0),
				skip(101),
				pkt(102, 0, 0, 101, 0),
				skip(103),
				skip(104),
				pkt(106, 0, 0, 103, 0), // 105 lost
				skip(107),
			},
			nacks: []nack{
				{100, 100, true}, {101, 102, true}, {102, 105, true}, {103, 106, true},
				{104, 0, false},
			},
		},
		{
			name: "refuses an earlier source",
			steps: []step{
				pkt(100, 0, 0, 100, 0),
				pkt(101, 0, 0, 101, 0),
				switchSource(),
				pkt(9000, 0, 0, 102, 1),
				pkt(9002, 0, 0, 104, 1), // 9001 lost
			},
			nacks: []nack{
				{100, 0, false}, {101, 0, false},
				{102, 9000, true}, {103, 9001, true}, {104, 9002, true},
				{105, 0, false},
			},
		},
		{
			name: "refuses an earlier source whose seqs overlap the current one",
			steps: []step{
				pkt(100, 0, 0, 100, 0),
				pkt(101, 0, 0, 101, 0),
				switchSource(),
				pkt(50, 0, 0, 102, 1), // output 100 and 101 would invert to 48 and 49
			},
			nacks: []nack{{100, 0, false}, {101, 0, false}, {102, 50, true}},
		},
		{
			name: "refuses everything between Switch and the new source's first packet",
			steps: []step{
				pkt(100, 0, 0, 100, 0),
				pkt(101, 0, 0, 101, 0),
				switchSource(),
			},
			nacks: []nack{{100, 0, false}, {101, 0, false}, {102, 0, false}},
		},
		{
			name: "across wraparound",
			steps: []step{
				pkt(65534, 0, 0, 65534, 0),
				switchSource(),
				pkt(65535, 0, 0, 65535, 1),
				skip(0),
				pkt(1, 0, 0, 0, 1),
				pkt(3, 0, 0, 2, 1),
			},
			nacks: []nack{
				{65534, 0, false}, {65535, 65535, true}, {0, 1, true}, {1, 2, true}, {2, 3, true},
				{3, 0, false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Munger
			run(t, &m, 90000, tt.steps)
			for _, n := range tt.nacks {
				in, ok := m.InputSeq(n.out)
				if ok != n.wantOK || (ok && in != n.wantIn) {
					t.Errorf("InputSeq(%d) = (%d, %v), want (%d, %v)", n.out, in, ok, n.wantIn, n.wantOK)
				}
			}
		})
	}
}

// TestMungerLongSource runs one source through several full turns of the sequence space
// with padding skipped now and then and a packet reordered every so often. Before the gaps
// were aged, offsets were compared with int16 across more than half the sequence space: 32768
// packets after a skip the output jumped by one, 65536 after it repeated a sequence number,
// and late packets were dropped during every other half turn.
func TestMungerLongSource(t *testing.T) {
	for _, skipEvery := range []int{0, 997, 40000} {
		t.Run(fmt.Sprintf("skip every %d", skipEvery), func(t *testing.T) {
			var m Munger
			seq := uint16(60000)
			prevOut, _, _ := m.Rewrite(seq, 0, 0, 90000)
			held, heldOut, holding := uint16(0), uint16(0), false
			for i := 1; i < 200000; i++ {
				seq++
				if skipEvery > 0 && i%skipEvery == 0 {
					m.Skip(seq)
					if holding {
						prevOut++ // out of order behind the held packet: left as a gap
					}
					continue
				}
				if i%101 == 0 && !holding {
					held, holding = seq, true // arrives after the next one
					prevOut++                 // its slot
					heldOut = prevOut
					continue
				}
				out, _, ok := m.Rewrite(seq, 0, 0, 90000)
				if !ok || out != prevOut+1 {
					t.Fatalf("packet %d (seq %d): Rewrite = (%d, %v), want (%d, true)", i, seq, out, ok, prevOut+1)
				}
				prevOut = out
				if in, ok := m.InputSeq(out); !ok || in != seq {
					t.Fatalf("packet %d: InputSeq(%d) = (%d, %v), want (%d, true)", i, out, in, ok, seq)
				}
				if holding {
					holding = false
					late, _, ok := m.Rewrite(held, 0, 0, 90000)
					if !ok || late != heldOut {
						t.Fatalf("late packet (seq %d) after %d: Rewrite = (%d, %v), want (%d, true)", held, i, late, ok, heldOut)
					}
					if in, ok := m.InputSeq(late); !ok || in != held {
						t.Fatalf("late packet: InputSeq(%d) = (%d, %v), want (%d, true)", late, in, ok, held)
					}
				}
			}
		})
	}
}

// TestMungerPaddingBurst: a bandwidth probe sends dozens of padding packets in a row. A
// burst widens one gap instead of using one per packet, so NACKs and late packets from just
// before the burst are still placed.
func TestMungerPaddingBurst(t *testing.T) {
	var m Munger
	for s := uint16(100); s < 110; s++ {
		m.Rewrite(s, 0, 0, 90000)
	}
	m.Rewrite(111, 0, 0, 90000) // 110 is late
	for s := uint16(112); s < 112+200; s++ {
		m.Skip(s)
	}
	if out, _, ok := m.Rewrite(312, 0, 0, 90000); !ok || out != 112 {
		t.Fatalf("after the burst: Rewrite = (%d, %v), want (112, true)", out, ok)
	}
	if in, ok := m.InputSeq(109); !ok || in != 109 {
		t.Fatalf("InputSeq(109) = (%d, %v), want (109, true)", in, ok)
	}
	if out, _, ok := m.Rewrite(110, 0, 0, 90000); !ok || out != 110 {
		t.Fatalf("late packet = (%d, %v), want (110, true)", out, ok)
	}
}

// TestMungerForgottenGap: once more than maxGaps separate skips have happened, a packet
// older than the oldest remembered one cannot be placed. It must be dropped, not given the
// oldest remembered offset, which put it on an output seq already used by another packet.
func TestMungerForgottenGap(t *testing.T) {
	var m Munger
	m.Rewrite(100, 0, 0, 90000)
	// 101 is late; then maxGaps+5 rounds of one packet and one padding packet.
	seq, used := uint16(102), map[uint16]uint16{100: 100}
	for range maxGaps + 5 {
		out, _, ok := m.Rewrite(seq, 0, 0, 90000)
		if !ok {
			t.Fatalf("Rewrite(%d) dropped", seq)
		}
		used[out] = seq
		m.Skip(seq + 1)
		seq += 2
	}
	out, _, ok := m.Rewrite(101, 0, 0, 90000)
	if ok {
		if other, clash := used[out]; clash {
			t.Fatalf("late packet 101 rewritten to %d, already used by input %d", out, other)
		}
		if out != 101 {
			t.Fatalf("late packet 101 rewritten to %d, want 101 or dropped", out)
		}
	}
	if in, ok := m.InputSeq(101); ok {
		t.Fatalf("InputSeq(101) = (%d, true) for a forgotten slot", in)
	}
	// The newest maxGaps-1 skips are still remembered.
	last := seq - 2
	if in, ok := m.InputSeq(m.lastOutSeq); !ok || in != last {
		t.Fatalf("InputSeq(%d) = (%d, %v), want (%d, true)", m.lastOutSeq, in, ok, last)
	}
}

// TestMungerLongPause: the ts advance on a switch is wall-clock time, however long, as long
// as it fits a forward step; beyond that the munger falls back to one tick.
func TestMungerLongPause(t *testing.T) {
	tests := []struct {
		name    string
		elapsed int64
		rate    uint32
		want    uint32
	}{
		{"one hour at 90 kHz", 3600 * 1000 * ms, 90000, 324_000_000},
		{"six hours at 90 kHz", 6 * 3600 * 1000 * ms, 90000, 1_944_000_000},
		{"seven hours at 90 kHz is more than half the ts space", 7 * 3600 * 1000 * ms, 90000, 1},
		{"one day at 48 kHz", 24 * 3600 * 1000 * ms, 48000, 1},
		{"twelve hours at 48 kHz", 12 * 3600 * 1000 * ms, 48000, 2_073_600_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Munger
			m.Rewrite(1, 1000, 0, tt.rate)
			m.Switch()
			_, ts, _ := m.Rewrite(99, 0, tt.elapsed, tt.rate)
			if got := ts - 1000; got != tt.want {
				t.Fatalf("ts advanced by %d, want %d", got, tt.want)
			}
		})
	}
}
