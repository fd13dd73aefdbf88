package simulcast

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pion/rtp/codecs"
)

// FuzzVP8MungerBytes feeds arbitrary payloads, after an arbitrary first one and maybe a
// switch, and checks ParseVP8Descriptor against pion's depacketizer and Rewrite against
// what it promises: no panic, ok exactly when the descriptor parses, an output of the input's
// length or one more, the same flags and VP8 data, a 15-bit picture ID, the input untouched,
// and the same result when rewritten in place.
func FuzzVP8MungerBytes(f *testing.F) {
	f.Add([]byte{0x90, 0xf0, 0x80, 0x01, 0x03, 0x20, 0x50}, []byte{0x90, 0xe0, 0x05, 0x07, 0x40, 0x51}, true)
	f.Add([]byte{0x90, 0x80, 0x7f, 0x50}, []byte{0x10, 0x50}, false)
	f.Add([]byte{}, []byte{0x90, 0x80, 0x81}, false)
	f.Add([]byte{0x80, 0x10, 0x1f, 0x00}, []byte{0x80, 0x50, 0x00, 0x1f, 0x00}, true)
	f.Add(buildVP8(hdr(32767, 255, 1, 31), vp8Key), buildVP8(short(hdr(3, 4, 0, 5)), vp8Key), true)
	f.Fuzz(func(t *testing.T, first, payload []byte, switchSource bool) {
		var m VP8Munger
		if out, ok := m.Rewrite(make([]byte, len(first)+1), first); len(out) > len(first)+1 || ok && len(out) < len(first) {
			t.Fatalf("Rewrite(% x): %d bytes out", first, len(out))
		}
		if switchSource {
			m.Switch()
		}
		d, hdrLen, err := ParseVP8Descriptor(payload)
		checkParseAgainstPion(t, payload, d, hdrLen, err)

		orig := bytes.Clone(payload)
		inPlace := m // the munger holds no pointers: a copy is an independent twin
		dst := make([]byte, len(payload)+1)
		out, ok := m.Rewrite(dst, payload)
		if ok != (err == nil) {
			t.Fatalf("Rewrite(% x) ok=%v, parse error %v", payload, ok, err)
		}
		if !bytes.Equal(payload, orig) {
			t.Fatalf("Rewrite wrote to its input: % x -> % x", orig, payload)
		}
		if !ok {
			if out != nil {
				t.Fatalf("Rewrite(% x) = (% x, false), want nil", payload, out)
			}
			return
		}
		if len(out) > len(payload)+1 || len(out) < len(payload) || &out[0] != &dst[0] {
			t.Fatalf("Rewrite(% x) = % x: not a prefix of dst of length %d or %d", payload, out, len(payload), len(payload)+1)
		}
		var pi, po codecs.VP8Packet
		fi, _ := pi.Unmarshal(payload)
		fo, err := po.Unmarshal(out)
		switch {
		case err != nil:
			t.Fatalf("output % x of % x: %v", out, payload, err)
		case !bytes.Equal(fi, fo):
			t.Fatalf("VP8 data changed: % x -> % x", payload, out)
		case pi.X != po.X || pi.N != po.N || pi.S != po.S || pi.PID != po.PID || pi.I != po.I ||
			pi.L != po.L || pi.T != po.T || pi.K != po.K || pi.TID != po.TID || pi.Y != po.Y:
			t.Fatalf("flags changed: % x -> % x", payload, out)
		case po.I == 1 && out[2]&0x80 == 0:
			t.Fatalf("output % x: 7-bit picture ID", out)
		case len(out) != len(payload)+boolInt(d.HasPictureID && !d.PictureID15):
			t.Fatalf("output % x of % x: wrong length", out, payload)
		}
		if pi.X == 1 && payload[1]&0x0f != out[1]&0x0f {
			t.Fatalf("reserved bits changed: % x -> % x", payload, out)
		}

		buf := make([]byte, len(payload), len(payload)+1)
		copy(buf, payload)
		if got, ok := inPlace.Rewrite(buf, buf); !ok || !bytes.Equal(got, out) {
			t.Fatalf("in place: (% x, %v), want % x", got, ok, out)
		}
		if inPlace != m {
			t.Fatalf("in place left the munger as %+v, want %+v", inPlace, m)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// checkParseAgainstPion: ParseVP8Descriptor fails where pion's depacketizer does, adds
// ErrVP8NoData where pion returns no VP8 data, and otherwise reads the same fields.
func checkParseAgainstPion(t *testing.T, payload []byte, d VP8Descriptor, hdrLen int, err error) {
	t.Helper()
	var p codecs.VP8Packet
	frame, perr := p.Unmarshal(payload)
	switch {
	case perr != nil:
		if !errors.Is(err, ErrVP8Truncated) {
			t.Fatalf("pion: %v; ParseVP8Descriptor(% x): %v", perr, payload, err)
		}
		return
	case len(frame) == 0:
		if !errors.Is(err, ErrVP8NoData) {
			t.Fatalf("pion: no data; ParseVP8Descriptor(% x): %v", payload, err)
		}
		return
	case err != nil:
		t.Fatalf("pion parses % x; ParseVP8Descriptor: %v", payload, err)
	}
	want := VP8Descriptor{
		NonReference: p.N == 1, Start: p.S == 1, PartitionID: p.PID,
		HasPictureID: p.I == 1, PictureID: p.PictureID, PictureID15: p.I == 1 && payload[2]&0x80 != 0,
		HasTL0PICIDX: p.L == 1, TL0PICIDX: p.TL0PICIDX,
		HasTID: p.T == 1, TID: p.TID, LayerSync: p.Y == 1,
		HasKeyIdx: p.K == 1, KeyIdx: p.KEYIDX,
	}
	if d != want || hdrLen != len(payload)-len(frame) {
		t.Fatalf("ParseVP8Descriptor(% x) = (%+v, %d), pion says (%+v, %d)", payload, d, hdrLen, want, len(payload)-len(frame))
	}
}

// vp8Source is one encoder's descriptor state: its newest picture ID (15 bits; sent as its
// low 7 when short), TL0PICIDX and KEYIDX, and which fields it sends.
type vp8Source struct {
	pid, tl0, keyIdx        int
	short                   bool
	hasTL0, hasTID, hasKey  bool
	sentPID, sentTL0, sentK int // the input values of the newest picture forwarded
}

// vp8Picture is a forwarded picture's packets as sent and as rewritten.
type vp8Picture struct{ in, out [][]byte }

// vp8Output is what the viewer has been sent: the values of the newest picture.
type vp8Output struct {
	pid, tl0, keyIdx          int
	seenPID, seenTL0, seenKey bool
}

// FuzzVP8MungerSwitch drives a VP8Munger with two encoders, A and B, whose picture IDs,
// TL0PICIDX and KEYIDX are unrelated and keep advancing while not forwarded. Operations are
// read from the input: switch to A or B, forward the current source's next picture (some
// pictures lost upstream) in one to three packets, or resend a packet of a recent picture.
// It checks that every packet of a picture gets the same values; that the first picture
// after a switch continues one past the newest output (the very first keeps its own); that
// within a source the output moves exactly as far as the input did; and that a resent packet
// is rewritten exactly as the first time.
func FuzzVP8MungerSwitch(f *testing.F) {
	f.Add([]byte{0x0f, 0x7f, 0xfe, 0xff, 0x1f, 0x00, 0x00, 0x00, 0x00, 0x00, 1, 1, 2, 0, 9, 0, 0x12, 0x34, 3, 1, 2, 2, 6, 0, 8, 1})
	f.Add([]byte{0x01, 0x00, 0x7e, 0x10, 0x02, 0x0e, 0x7f, 0xff, 0xf0, 0x1f, 1, 0, 1, 0, 1, 0, 1, 2, 6, 5, 8, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 14, 3})
	f.Add([]byte{0x07, 0x40, 0x00, 0x01, 0x02, 0x06, 0x12, 0x34, 0x56, 0x17, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1})
	f.Fuzz(runVP8Switch)
}

// runVP8Switch is FuzzVP8MungerSwitch's body.
func runVP8Switch(t *testing.T, data []byte) {
	r := &byteReader{b: data}
	var src [2]vp8Source
	for i := range src {
		flags := r.u8()
		src[i] = vp8Source{
			pid: int(r.u16() & pictureIDMask), tl0: int(r.u8()), keyIdx: int(r.u8() & keyIdxMask),
			short: flags&1 != 0, hasTL0: flags&2 != 0, hasTID: flags&4 != 0, hasKey: flags&8 != 0,
		}
	}
	var (
		m      VP8Munger
		out    vp8Output
		cur    = 0
		joined bool // the current source has had a picture forwarded since it was switched to
		recent []vp8Picture
		dst    = make([]byte, 64)
	)
	for !r.done() {
		op := r.u8()
		switch op % 8 {
		case 0: // switch to A or B, which has moved on meanwhile
			cur = int(op>>3) & 1
			s := &src[cur]
			s.pid = (s.pid + int(r.u16())) & pictureIDMask
			s.tl0 = (s.tl0 + int(r.u8())) & tl0PicIdxMask
			s.keyIdx = (s.keyIdx + int(r.u8())) & keyIdxMask
			m.Switch()
			joined, recent = false, nil
		case 1, 2, 3, 4, 5: // the next picture
			s := &src[cur]
			if joined {
				// Up to two pictures lost upstream, at most 3 apart: with the last 20
				// kept for resending, within the ±63 that 7-bit IDs are unwrapped in.
				s.pid = (s.pid + 1 + int(op>>3)%3) & pictureIDMask
				s.tl0 = (s.tl0 + int(op>>5&1)) & tl0PicIdxMask
				s.keyIdx = (s.keyIdx + int(op>>6&1)) & keyIdxMask
			}
			pic := sendVP8Picture(t, &m, dst, s, !joined, int(r.u8()%3)+1, int(op>>6))
			checkVP8Continuity(t, s, &out, pic, joined)
			joined = true
			if recent = append(recent, pic); len(recent) > 20 {
				recent = recent[1:]
			}
		case 6, 7: // a packet of a recent picture again: late, or resent after a NACK
			if len(recent) == 0 {
				continue
			}
			pic := recent[int(r.u8())%len(recent)]
			i := int(r.u8()) % len(pic.in)
			got, ok := m.Rewrite(dst, pic.in[i])
			if !ok || !bytes.Equal(got, pic.out[i]) {
				t.Fatalf("resent % x rewritten to (% x, %v), first time % x", pic.in[i], got, ok, pic.out[i])
			}
		}
	}
}

// sendVP8Picture forwards source s's current picture in n packets and returns them.
func sendVP8Picture(t *testing.T, m *VP8Munger, dst []byte, s *vp8Source, key bool, n, tid int) vp8Picture {
	t.Helper()
	h := vp8Hdr{pid: s.pid, short: s.short, tl0: -1, tid: -1, keyIdx: -1}
	if s.hasTL0 {
		h.tl0 = s.tl0
	}
	if s.hasTID {
		h.tid = tid
	}
	if s.hasKey {
		h.keyIdx = s.keyIdx
	}
	frame := vp8Inter
	if key {
		frame = vp8Key
	}
	var pic vp8Picture
	for i := range n {
		h.start = i == 0
		in := buildVP8(h, append(frame[:len(frame):len(frame)], byte(i)))
		got, ok := m.Rewrite(dst, in)
		if !ok {
			t.Fatalf("Rewrite(% x) dropped", in)
		}
		pic.in, pic.out = append(pic.in, in), append(pic.out, bytes.Clone(got))
	}
	return pic
}

// checkVP8Continuity checks a forwarded picture's output values against the output so far
// and records them.
func checkVP8Continuity(t *testing.T, s *vp8Source, out *vp8Output, pic vp8Picture, joined bool) {
	t.Helper()
	var first codecs.VP8Packet
	for i, p := range pic.out {
		var pkt codecs.VP8Packet
		if _, err := pkt.Unmarshal(p); err != nil {
			t.Fatalf("output % x: %v", p, err)
		}
		if i == 0 {
			first = pkt
			continue
		}
		if pkt.PictureID != first.PictureID || pkt.TL0PICIDX != first.TL0PICIDX || pkt.KEYIDX != first.KEYIDX {
			t.Fatalf("packets of one picture rewritten apart: %d/%d/%d then %d/%d/%d",
				first.PictureID, first.TL0PICIDX, first.KEYIDX, pkt.PictureID, pkt.TL0PICIDX, pkt.KEYIDX)
		}
	}
	firstPID := s.pid
	if s.short {
		firstPID &= 0x7f // what is on the wire, which the very first picture keeps
	}
	// check compares an output value with the model: the very first of all keeps the input
	// (initial), the first of a source follows the newest output, and later ones move by the
	// input's own step (moved).
	check := func(name string, got int, present bool, initial, moved int, last *int, seen *bool, mask int) {
		t.Helper()
		if !present {
			return
		}
		want := initial
		switch {
		case joined:
			want = (*last + moved) & mask
		case *seen:
			want = (*last + 1) & mask
		}
		if got != want {
			t.Fatalf("%s: output %d, want %d (joined %v, input %d, moved %d, last output %d)",
				name, got, want, joined, initial, moved, *last)
		}
		*last, *seen = got, true
	}
	check("picture ID", int(first.PictureID), first.I == 1, firstPID, s.pid-s.sentPID, &out.pid, &out.seenPID, pictureIDMask)
	check("TL0PICIDX", int(first.TL0PICIDX), first.L == 1, s.tl0, s.tl0-s.sentTL0, &out.tl0, &out.seenTL0, tl0PicIdxMask)
	check("KEYIDX", int(first.KEYIDX), first.K == 1, s.keyIdx, s.keyIdx-s.sentK, &out.keyIdx, &out.seenKey, keyIdxMask)
	s.sentPID, s.sentTL0, s.sentK = s.pid, s.tl0, s.keyIdx
}
