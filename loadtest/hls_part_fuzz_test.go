package loadtest

import (
	"encoding/binary"
	"testing"
)

// FuzzPartFrames: whatever a server sends as a part, the box walker never panics or reads
// out of bounds, and a stamp only comes from a sample inside the part.
func FuzzPartFrames(f *testing.F) {
	box := func(typ string, body ...[]byte) []byte {
		n := 8
		for _, b := range body {
			n += len(b)
		}
		out := binary.BigEndian.AppendUint32(nil, uint32(n))
		out = append(out, typ...)
		for _, b := range body {
			out = append(out, b...)
		}
		return out
	}
	tfhd := box("tfhd", []byte{0, 0x02, 0, 0}, []byte{0, 0, 0, 1})                                               // default-base-is-moof, track 1
	trun := box("trun", []byte{0, 0, 0x02, 0x01}, []byte{0, 0, 0, 1}, []byte{0, 0, 0, 0x40}, []byte{0, 0, 0, 4}) // one sample of 4 bytes at 64
	moof := box("moof", box("traf", tfhd, trun))
	f.Add(append(moof, box("mdat", []byte{0, 0, 0, 0})...))
	f.Add([]byte{0, 0, 0, 1, 'm', 'o', 'o', 'f', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(box("moof", box("traf", box("trun", []byte{0, 0, 0x0f, 0x05}, []byte{0xff, 0xff, 0xff, 0xff}))))
	// A base-data-offset near 2^63: pos+size wrapped negative and passed the bounds check.
	far := box("tfhd", []byte{0, 0, 0, 0x01}, []byte{0, 0, 0, 1}, []byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0})
	f.Add(box("moof", box("traf", far, box("trun", []byte{0, 0, 0x02, 0x00}, []byte{0, 0, 0, 1}, []byte{0, 0, 0, 100}))))
	f.Fuzz(func(t *testing.T, part []byte) {
		_, _ = partFrames(part, map[int]bool{1: true}, nil)
	})
}
