package llhls

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// BenchmarkVP8Assembler: a VP8 host's packets on their way to ffmpeg (per packet, on the
// stream's goroutine) allocate nothing: the frame buffer is reused.
func BenchmarkVP8Assembler(b *testing.B) {
	frame := make([]byte, 6000)
	frame[0] = 0x10 // a delta frame's tag
	pay := codecs.VP8Payloader{EnablePictureID: true}
	payloads := pay.Payload(1200, frame)
	pkts := make([]rtp.Packet, len(payloads))
	for i, p := range payloads {
		pkts[i] = rtp.Packet{Header: rtp.Header{Version: 2, Marker: i == len(payloads)-1}, Payload: p}
	}
	a := newVP8Assembler()
	a.needKey = false
	seq, ts := uint16(0), uint32(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts += 3000
		for k := range pkts {
			seq++
			pkts[k].SequenceNumber, pkts[k].Timestamp = seq, ts
			a.push(&pkts[k], false)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pkts)), "ns/packet")
}

// TestVP8AssemblerPaddingAndRetransmission: a padding packet (Chrome's bandwidth probe, on
// the media SSRC without RTX) and a late retransmission are no loss: the frames around them
// still come out. Before the fix either one dropped every frame until the next keyframe.
func TestVP8AssemblerPaddingAndRetransmission(t *testing.T) {
	a := newVP8Assembler()
	key := []byte{0x10, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01} // S=1, a keyframe tag
	delta := []byte{0x10, 0x01, 0xaa}
	var got []bool // isKey of each frame out
	push := func(seq uint16, ts uint32, payload []byte, keyframe bool) {
		f, _, isKey, err := a.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: len(payload) > 0}, Payload: payload}, keyframe)
		if err != nil {
			t.Fatal(err)
		}
		if f != nil {
			got = append(got, isKey)
		}
	}
	push(1, 0, key, true)
	push(2, 0, nil, false) // padding
	push(3, 3000, delta, false)
	push(2, 0, nil, false) // a duplicate of the padding, late
	push(1, 0, key, true)  // a late retransmission of the keyframe
	push(4, 6000, delta, false)
	if want := []bool{true, false, false}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("frames out (isKey): %v, want %v", got, want)
	}
}
