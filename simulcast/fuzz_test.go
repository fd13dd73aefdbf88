package simulcast

import (
	"encoding/binary"
	"testing"

	"github.com/pion/rtp/codecs"
)

func FuzzIsKeyframeStart(f *testing.F) {
	f.Add(uint8(CodecH264), h264IDR)
	f.Add(uint8(CodecH264), stapA(h264SPS, h264PPS))
	f.Add(uint8(CodecH264), []byte{0x78, 0xff, 0xff, 0x67})
	f.Add(uint8(CodecH264), []byte{0x7c, 0x85})
	f.Add(uint8(CodecVP8), vp8([]byte{0x90, 0xf0, 0x80, 0x01, 0x03, 0x20}, vp8Key))
	f.Add(uint8(CodecVP8), []byte{0x90, 0x80, 0x81})
	f.Add(uint8(CodecOpus), []byte{0xfc})
	f.Add(uint8(0xff), []byte(nil))
	f.Fuzz(func(t *testing.T, codec uint8, payload []byte) {
		c := Codec(codec)
		got := IsKeyframeStart(c, payload)
		var want bool
		switch c {
		case CodecH264:
			want = h264Oracle(payload)
		case CodecVP8:
			want = vp8Oracle(payload)
		default:
			want = true // never gated
		}
		if got != want {
			t.Fatalf("IsKeyframeStart(%d, % x) = %v, want %v", codec, payload, got, want)
		}
	})
}

// h264Oracle restates the H.264 rule by consuming a slice instead of indexing into it.
func h264Oracle(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	isStart := func(nal byte) bool { t := nal & 0x1f; return t == 5 || t == 7 }
	switch p[0] & 0x1f {
	case 24: // STAP-A: up to the first SPS or IDR; a malformed size before it ends the search
		for rest := p[1:]; len(rest) >= 3; {
			size := int(binary.BigEndian.Uint16(rest))
			rest = rest[2:]
			if size == 0 || size > len(rest) {
				return false
			}
			if isStart(rest[0]) {
				return true
			}
			rest = rest[size:]
		}
		return false
	case 28: // FU-A
		return len(p) >= 2 && p[1]&0x80 != 0 && p[1]&0x1f == 5
	}
	return isStart(p[0])
}

// vp8Oracle judges a VP8 packet with pion's descriptor parser.
func vp8Oracle(p []byte) bool {
	var pkt codecs.VP8Packet
	frame, err := pkt.Unmarshal(p)
	return err == nil && pkt.S == 1 && pkt.PID == 0 && len(frame) > 0 && frame[0]&0x01 == 0
}

// mungerModel is a plain, unbounded reimplementation of what the Munger promises, with
// sequence numbers unwrapped to int64 so that it needs no modular arithmetic.
type mungerModel struct {
	t    *testing.T
	m    Munger
	rate uint32
	now  int64

	started, pending bool // pending: Switch called, new source's first packet not yet seen

	// Output side.
	lastOut     int64
	lastOutTS   uint32
	lastArrival int64

	// Current source.
	next      int64 // next input seq, unwrapped
	ts        uint32
	joinSeq   int64
	highest   int64
	tsOffset  uint32
	gaps      []modelGap     // all of them; the Munger keeps the newest maxGaps
	skipped   map[int64]bool // inputs closed up by Skip
	held      []modelPkt     // sent but not yet delivered: arrive late
	delivered []modelPkt     // accepted, for duplicates and NACKs
}

type modelGap struct{ from, off int64 }

type modelPkt struct {
	seq   int64
	ts    uint32
	out   uint16
	outTS uint32
}

// far is how far behind the newest input the model still delivers late packets and
// duplicates. Beyond half the sequence space (32768) old and new cannot be told apart; keep a
// margin so the model never leans on the Munger's edge-of-window choice.
const far = 30000

func (s *mungerModel) switchSource(seqBase uint16, tsBase uint32) {
	s.m.Switch()
	s.pending = true
	s.next, s.ts = int64(seqBase), tsBase
	s.gaps, s.skipped, s.held, s.delivered = nil, map[int64]bool{}, nil, nil
	s.checkNoNack()
}

// placeable reports whether a late input seq of the current source can still be given its
// output slot: it came no earlier than the join and its gap is among the newest maxGaps.
func (s *mungerModel) placeable(seq int64) bool {
	if !s.started || s.pending || seq < s.joinSeq || len(s.gaps) == 0 {
		return false
	}
	return seq >= s.gaps[max(0, len(s.gaps)-maxGaps)].from
}

func (s *mungerModel) offsetFor(seq int64) int64 {
	for i := len(s.gaps) - 1; i >= 0; i-- {
		if seq >= s.gaps[i].from {
			return s.gaps[i].off
		}
	}
	s.t.Fatalf("model: no gap for seq %d", seq)
	return 0
}

// joinDelta is the ts advance the Munger must apply on a switch at arrival.
func (s *mungerModel) joinDelta(arrival int64) uint32 {
	if arrival <= s.lastArrival || s.rate == 0 {
		return 1
	}
	d := uint64(arrival-s.lastArrival) * uint64(s.rate) / 1e9
	if d <= 1 || d >= 1<<31 {
		return 1
	}
	return uint32(d)
}

// send emits the source's next packet: in order, or held back to arrive later.
func (s *mungerModel) send(tsStep uint32, hold bool) {
	p := modelPkt{seq: s.next, ts: s.ts + tsStep}
	s.next++
	s.ts = p.ts
	if hold && len(s.held) < 16 {
		s.held = append(s.held, p)
		return
	}
	s.deliverInOrder(p)
}

func (s *mungerModel) deliverInOrder(p modelPkt) {
	t := s.t
	out, outTS, ok := s.m.Rewrite(uint16(p.seq), p.ts, s.now, s.rate)
	if !ok {
		t.Fatalf("in-order packet %d dropped", uint16(p.seq))
	}
	switch {
	case !s.started:
		// The first source keeps its numbering.
		if out != uint16(p.seq) || outTS != p.ts {
			t.Fatalf("first packet (%d, %d) rewritten to (%d, %d)", uint16(p.seq), p.ts, out, outTS)
		}
		s.started, s.lastOut, s.lastOutTS, s.lastArrival = true, p.seq, p.ts, s.now
		s.joinAt(p, 0, 0)
	case s.pending:
		// Continuity across the switch: the next seq, and ts moved on by wall-clock time.
		if want := uint16(s.lastOut + 1); out != want {
			t.Fatalf("switch: seq %d, want %d (last out %d)", out, want, uint16(s.lastOut))
		}
		want := s.lastOutTS + s.joinDelta(s.now)
		if outTS != want {
			t.Fatalf("switch: ts %d, want %d (last out ts %d)", outTS, want, s.lastOutTS)
		}
		if int32(outTS-s.lastOutTS) <= 0 {
			t.Fatalf("switch: ts went from %d to %d", s.lastOutTS, outTS)
		}
		s.joinAt(p, s.lastOut+1-p.seq, outTS-p.ts)
	default:
		// Within a source the output moves exactly as far as the input did, less the
		// padding closed up: with nothing lost that is exactly one.
		if got, want := int64(uint16(out-uint16(s.lastOut))), p.seq-s.highest; got != want {
			t.Fatalf("in-order packet %d: output moved %d, input moved %d", uint16(p.seq), got, want)
		}
	}
	s.highest = p.seq
	s.accept(p, out, outTS)
}

func (s *mungerModel) joinAt(p modelPkt, off int64, tsOffset uint32) {
	s.pending = false
	s.joinSeq, s.highest, s.tsOffset = p.seq, p.seq, tsOffset
	s.gaps = []modelGap{{from: p.seq, off: off}}
}

// accept checks an accepted packet against the model and records it.
func (s *mungerModel) accept(p modelPkt, out uint16, outTS uint32) {
	t := s.t
	want := p.seq + s.offsetFor(p.seq)
	if out != uint16(want) || outTS != p.ts+s.tsOffset {
		t.Fatalf("packet (%d, %d) rewritten to (%d, %d), want (%d, %d)", uint16(p.seq), p.ts, out, outTS, uint16(want), p.ts+s.tsOffset)
	}
	if want > s.lastOut {
		s.lastOut = want
	}
	if int32(outTS-s.lastOutTS) > 0 {
		s.lastOutTS, s.lastArrival = outTS, s.now
	}
	if got := s.m.OutputTS(p.ts); got != outTS {
		t.Fatalf("OutputTS(%d) = %d, want %d", p.ts, got, outTS)
	}
	if in, ok := s.m.InputSeq(out); !ok || in != uint16(p.seq) {
		t.Fatalf("InputSeq(%d) = (%d, %v), want (%d, true)", out, in, ok, uint16(p.seq))
	}
	p.out, p.outTS = out, outTS
	if len(s.delivered) == 16 {
		s.delivered = s.delivered[1:]
	}
	s.delivered = append(s.delivered, p)
}

// late delivers a held packet, or a duplicate of a delivered one. Before the first packet of
// a source the Munger cannot know it is late: it joins on it. After that, a packet from
// before the join must be dropped: its output slot belongs to the previous source.
func (s *mungerModel) late(p modelPkt, dup bool) {
	t := s.t
	if !s.started || s.pending || p.seq > s.highest {
		// Held back, but nothing newer came first: in order after all.
		s.deliverInOrder(p)
		return
	}
	out, outTS, ok := s.m.Rewrite(uint16(p.seq), p.ts, s.now, s.rate)
	switch {
	case !s.placeable(p.seq):
		if ok {
			t.Fatalf("late packet %d (join %d) accepted as %d, want dropped", uint16(p.seq), uint16(s.joinSeq), out)
		}
	case !ok:
		t.Fatalf("late packet %d dropped, want placed", uint16(p.seq))
	case dup && (out != p.out || outTS != p.outTS):
		t.Fatalf("duplicate of %d rewritten to (%d, %d), first time (%d, %d)", uint16(p.seq), out, outTS, p.out, p.outTS)
	default:
		s.accept(p, out, outTS)
	}
}

func (s *mungerModel) skip() {
	if s.started && !s.pending && s.next-s.highest >= far {
		return // no padding so long after the newest packet: see lose
	}
	seq := s.next
	s.next++
	s.m.Skip(uint16(seq))
	if !s.started || s.pending || seq != s.highest+1 {
		return // ignored: before any packet, mid-switch, or not in order
	}
	s.highest = seq
	s.skipped[seq] = true
	off := s.gaps[len(s.gaps)-1].off - 1
	if last := &s.gaps[len(s.gaps)-1]; len(s.gaps) > 1 && last.from == seq {
		last.from, last.off = seq+1, off
	} else {
		s.gaps = append(s.gaps, modelGap{from: seq + 1, off: off})
	}
}

// nack checks InputSeq for an output seq near the newest.
func (s *mungerModel) nack(back uint8) {
	out := s.lastOut - int64(back%80) + 3
	in, ok := s.m.InputSeq(uint16(out))
	want, wantOK := s.inverse(out)
	if ok != wantOK || (ok && in != uint16(want)) {
		s.t.Fatalf("InputSeq(%d) = (%d, %v), want (%d, %v)", uint16(out), in, ok, uint16(want), wantOK)
	}
}

// inverse is the input seq of the current source that was (or would have been) sent as out.
func (s *mungerModel) inverse(out int64) (int64, bool) {
	if !s.started || s.pending || out > s.lastOut {
		return 0, false
	}
	for i := len(s.gaps) - 1; i >= 0; i-- {
		in := out - s.gaps[i].off
		end := s.highest
		if i+1 < len(s.gaps) {
			end = s.gaps[i+1].from - 1
		}
		if in >= s.gaps[i].from && in <= end && !s.skipped[in] {
			return in, s.placeable(in)
		}
	}
	return 0, false
}

func (s *mungerModel) checkNoNack() {
	for _, back := range []uint8{0, 1, 2, 3, 4} {
		if in, ok := s.m.InputSeq(uint16(s.lastOut - int64(back))); ok {
			s.t.Fatalf("InputSeq(%d) = (%d, true) between Switch and the next packet", uint16(s.lastOut-int64(back)), in)
		}
	}
}

// lose skips n input seqs: packets lost on the way in, never seen. The next packet must
// still be recognisably newer than the newest seen, so the loss is capped.
func (s *mungerModel) lose(n int64) {
	if s.started && !s.pending {
		n = min(n, s.highest+far-s.next)
	}
	s.next += max(n, 0)
}

// forgetFar drops held and delivered packets so far behind the next seq that the model no
// longer delivers them (see far).
func (s *mungerModel) forgetFar() {
	keep := func(ps []modelPkt) []modelPkt {
		out := ps[:0]
		for _, p := range ps {
			if s.next-p.seq < far {
				out = append(out, p)
			}
		}
		return out
	}
	s.held, s.delivered = keep(s.held), keep(s.delivered)
}

func (s *mungerModel) checkLastOut() {
	if !s.started {
		return
	}
	if seq, ts := s.m.LastOut(); seq != uint16(s.lastOut) || ts != s.lastOutTS {
		s.t.Fatalf("LastOut = (%d, %d), want (%d, %d)", seq, ts, uint16(s.lastOut), s.lastOutTS)
	}
}

// byteReader hands out fuzz input; past the end it reports done.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) done() bool { return r.i >= len(r.b) }

func (r *byteReader) u8() uint8 {
	if r.i >= len(r.b) {
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *byteReader) u16() uint16 { return uint16(r.u8())<<8 | uint16(r.u8()) }
func (r *byteReader) u32() uint32 { return uint32(r.u16())<<16 | uint32(r.u16()) }

// FuzzMunger drives a Munger with a sequence of operations read from the input and checks it
// against mungerModel after every one: a new source with random seq and ts bases, in-order
// packets, held-back packets delivered late (including ones from before the join), duplicates,
// padding skips, bursts of loss, and NACK translation.
func FuzzMunger(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Add([]byte{0, 0, 0xff, 0xfe, 0xff, 0xff, 0xff, 0x00, 1, 2, 1, 2, 1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte{1, 0, 1, 3, 1, 1, 1, 2, 0, 0x12, 0x34, 0, 0, 0, 0, 9, 1, 1, 4, 0, 4, 1, 7, 5})
	f.Add([]byte{
		1, 1, 1, 0, 1, 3, 0, 1, 1, 6, 6, 6, 6, 1, 1, 7, 2, 7, 9, 8, 0x70, 0x00,
		1, 0, 0, 5, 1, 4, 1, 7, 3, 0, 0xff, 0xff, 0x01, 0x02, 0x03, 0x04, 0x50, 3, 1, 0, 1, 1, 4, 2,
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &byteReader{b: data}
		rates := [...]uint32{90000, 48000, 8000, 0}
		s := &mungerModel{t: t, rate: rates[r.u8()%4], skipped: map[int64]bool{}}
		s.next, s.ts, s.now = int64(r.u16()), r.u32(), int64(r.u32())*1000
		for !r.done() {
			op := r.u8()
			switch op % 10 {
			case 0: // the stream moves to another source
				s.now += int64(r.u16()) * 1e6
				s.switchSource(r.u16(), r.u32())
			case 1, 2: // the next packet, in order
				s.now += int64(r.u8()) * 1e5
				s.send(uint32(op/10%4)*1500, false)
			case 3: // the next packet, delayed
				s.send(uint32(op/10%4)*1500, true)
			case 4: // a delayed packet arrives
				if len(s.held) > 0 {
					i := int(r.u8()) % len(s.held)
					p := s.held[i]
					s.held = append(s.held[:i], s.held[i+1:]...)
					s.now += 1e5
					s.late(p, false)
				}
			case 5: // a duplicate arrives
				if len(s.delivered) > 0 {
					s.late(s.delivered[int(r.u8())%len(s.delivered)], true)
				}
			case 6, 7: // padding
				s.skip()
			case 8: // a viewer NACKs
				s.nack(r.u8())
			case 9: // a burst of loss
				s.lose(int64(r.u16()) % (far / 2))
			}
			s.forgetFar()
			s.checkLastOut()
			if s.pending {
				s.checkNoNack()
			}
		}
		// Everything still held is delivered at the end.
		for _, p := range s.held {
			s.late(p, false)
		}
	})
}
