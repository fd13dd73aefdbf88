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
