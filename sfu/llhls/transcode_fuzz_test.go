package llhls

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/pion/rtp"
)

// FuzzVP8Assembler: random RTP packets (a host's, untrusted) into the VP8 assembler never
// panic, never give a frame over maxVP8Frame, give one only at a marker, and give nothing
// after a loss until a keyframe.
func FuzzVP8Assembler(f *testing.F) {
	key := []byte{0x10, 0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01} // S=1, PID 0; a keyframe tag
	f.Add(pkt(7, 0, key...))                                                        // one-packet keyframe
	f.Add(append(pkt(6, 0, key...), pkt(1, 0, 0x00, 0xaa, 0xbb)...))                // two packets
	f.Add(append(pkt(7, 0, key...), pkt(13, 3, 0x10, 0x01, 0x02)...))               // a loss before a delta frame
	f.Add(pkt(7, 0, 0x90, 0x80))                                                    // extended header, truncated
	f.Fuzz(func(t *testing.T, data []byte) {
		a := newVP8Assembler()
		waitKey := true
		prev, first := uint16(0), true
		fuzzPackets(data, func(p *rtp.Packet, keyframe bool) bool {
			if !first && p.SequenceNumber != prev+1 {
				waitKey = true
			}
			first, prev = false, p.SequenceNumber
			frame, _, isKey, _ := a.push(p, keyframe)
			if frame == nil {
				return true
			}
			if !p.Marker {
				t.Fatal("a frame at a packet without the marker")
			}
			if len(frame) > maxVP8Frame {
				t.Fatalf("frame of %d bytes", len(frame))
			}
			if waitKey && !isKey {
				t.Fatal("a delta frame after a loss, before any keyframe")
			}
			if isKey {
				waitKey = false
			}
			return true
		})
	})
}

// FuzzFLVReader: whatever comes out of ffmpeg's stdout, the reader never panics, gives
// access units only from AVC NALU tags, and ends with an error rather than looping.
func FuzzFLVReader(f *testing.F) {
	var ok bytes.Buffer
	ok.Write([]byte{'F', 'L', 'V', 1, 1, 0, 0, 0, 9, 0, 0, 0, 0})
	writeTag := func(data []byte, ms uint32) {
		h := []byte{9, byte(len(data) >> 16), byte(len(data) >> 8), byte(len(data)), byte(ms >> 16), byte(ms >> 8), byte(ms), byte(ms >> 24), 0, 0, 0}
		ok.Write(h)
		ok.Write(data)
		var pts [4]byte
		binary.BigEndian.PutUint32(pts[:], uint32(len(h)+len(data)))
		ok.Write(pts[:])
	}
	sps, pps := []byte{0x67, 0x42, 0xc0, 0x1e}, []byte{0x68, 0xce}
	writeTag(append(append(append([]byte{0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 4}, sps...), 1, 0, 2), pps...), 0)
	writeTag([]byte{0x17, 1, 0, 0, 0, 0, 0, 0, 3, 0x65, 0x88, 0x84}, 33)
	f.Add(ok.Bytes())
	f.Add([]byte("FLV\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00\x09\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newFLVReader(bytes.NewReader(data))
		if r.header() != nil {
			return
		}
		for range 10_000 {
			au, _, _, err := r.next()
			if err != nil {
				return
			}
			for _, n := range au {
				if len(n) == 0 {
					t.Fatal("an empty NAL unit")
				}
			}
		}
		t.Fatal("10,000 access units from a finite input")
	})
}
