package transcode

import (
	"testing"
)

// FuzzSetParams: an SPS from a host is untrusted input; parsing it must never panic, and
// what it accepts must be a size the ladder can work with.
func FuzzSetParams(f *testing.F) {
	f.Add([]byte{0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x58, 0xba, 0x80})
	f.Add([]byte{0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5, 0x84, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xf0, 0x3c, 0x60, 0xc6, 0x58})
	f.Add([]byte{0x67})
	f.Fuzz(func(t *testing.T, sps []byte) {
		var s Source
		if err := s.SetParams(sps, []byte{0x68, 0xce, 0x38, 0x80}); err != nil {
			return
		}
		if s.Width <= 0 || s.Height <= 0 || s.Width > 8192 || s.Height > 8192 || s.FPS < 0 || s.FPS > 240 {
			t.Fatalf("accepted %dx%d @ %v", s.Width, s.Height, s.FPS)
		}
		if len(s.ProfileLevelID) != 6 {
			t.Fatalf("profile-level-id %q", s.ProfileLevelID)
		}
		for _, r := range selectRungs(DefaultLadder, s.Width, s.Height) {
			if r.Width < 2 || r.Height < 2 || r.Width%2 != 0 || r.Height%2 != 0 || r.Height > s.Height {
				t.Fatalf("rung %+v for %dx%d", r, s.Width, s.Height)
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
