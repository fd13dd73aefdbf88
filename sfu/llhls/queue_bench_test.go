package llhls

import (
	"testing"

	"github.com/pion/rtp"
)

// BenchmarkQueueReadRTP is the LL-HLS reader's cost on the hub's hot path (the Receiver's
// goroutine): copy the packet into a recycled slot. It must allocate nothing.
func BenchmarkQueueReadRTP(b *testing.B) {
	q := newQueue(1024)
	raw := make([]byte, 1200)
	var pkt rtp.Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		q.ReadRTP(nil, raw, &pkt, false)
		q.release(<-q.work)
	}
}
