package transcode

import (
	"testing"
)

// FuzzRungs: whatever size a host's SPS gives (ingest/rtmp bounds it to 16..8192), the
// ladder's rungs are even, at least 2x2 and never above the source.
func FuzzRungs(f *testing.F) {
	f.Add(640, 360)
	f.Add(1920, 1080)
	f.Add(17, 8191)
	f.Fuzz(func(t *testing.T, w, h int) {
		if w < 16 || h < 16 || w > 8192 || h > 8192 {
			return
		}
		for _, r := range selectRungs(DefaultLadder, w, h) {
			if r.Width < 2 || r.Height < 2 || r.Width%2 != 0 || r.Height%2 != 0 || r.Height > h {
				t.Fatalf("rung %+v for %dx%d", r, w, h)
			}
		}
	})
}

// FuzzParamsApply: whatever NAL units a host sends, putting parameter sets back must not
// panic, lose a unit, or add anything but the stored SPS and PPS.
func FuzzParamsApply(f *testing.F) {
	f.Add([]byte{0x09, 0xf0}, []byte{0x65, 1}, []byte{0x67, 2}, true)
	f.Add([]byte{}, []byte{0x41}, []byte{0x68}, false)
	f.Fuzz(func(t *testing.T, a, b, c []byte, known bool) {
		var p params
		if known {
			p.sps, p.pps = []byte{0x67, 0xaa}, []byte{0x68, 0xbb}
		}
		au := [][]byte{a, b, c}
		if len(a) == 0 {
			au = au[1:] // never an empty first unit: the RTMP side splits on lengths
		}
		in := len(au)
		out := p.apply(au)
		if len(out) < in || len(out) > in+2 {
			t.Fatalf("%d units became %d", in, len(out))
		}
	})
}

// FuzzMunger: any packet sequence keeps output sequence numbers dense across segments
// when packets arrive in order.
func FuzzMunger(f *testing.F) {
	f.Add(uint16(1), uint16(100), uint32(5), uint16(2), uint16(9), uint32(7), uint8(3))
	f.Fuzz(func(t *testing.T, seg1, seq1 uint16, ts1 uint32, seg2, seq2 uint16, ts2 uint32, n uint8) {
		var m munger
		at := int64(1e12)
		var last uint16
		for i := range int(n%20) + 1 {
			s, _ := m.rewrite(seg1, seq1+uint16(i), ts1, at, 90000)
			if i > 0 && s != last+1 {
				t.Fatalf("segment 1 packet %d: seq %d after %d", i, s, last)
			}
			last = s
		}
		for i := range int(n%7) + 1 {
			at += 1e6
			s, _ := m.rewrite(seg2, seq2+uint16(i), ts2, at, 90000)
			if seg2 != seg1 && s != last+1 {
				t.Fatalf("segment 2 packet %d: seq %d after %d", i, s, last)
			}
			last = s
		}
	})
}
