package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// countingWriter stands in for pion's SRTP write stream so the benchmark measures the
// SFU's own per-packet work: snapshot read, lock, munging, header rebuild, interface call.
type countingWriter struct{ packets, bytes int }

func (w *countingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.packets++
	w.bytes += len(payload)
	return len(payload), nil
}

func (w *countingWriter) Write(b []byte) (int, error) { return len(b), nil }

// newBenchTrack builds a video Track with n connected DownTracks fed by one H.264 Receiver.
func newBenchTrack(tb testing.TB, n int) (*Track, *Receiver, []*countingWriter) {
	cfg := DefaultConfig()
	tr := newTrack(webrtc.RTPCodecTypeVideo, nil, nil, 1)
	codec := forwardedCodecs()[1] // H.264 constrained baseline
	rcv := newReceiver(tr, PublishedTrack{Codec: codec, Kind: webrtc.RTPCodecTypeVideo, SSRC: 1}, &cfg, zap.NewNop())
	tr.attach(rcv)
	writers := make([]*countingWriter, n)
	for i := range n {
		writers[i] = &countingWriter{}
		tr.addDownTrack(newTestDownTrack(tr, writers[i], i))
	}
	return tr, rcv, writers
}

// forwarder drives the production fan-out (Track.forwardBatch, DownTrack.writeBatch) one
// packet at a time, through a batch it reuses, as Receiver.Run does for a paced sender.
type forwarder struct {
	tr  *Track
	rcv *Receiver
	b   *frameBatch
}

func newForwarder(tr *Track, rcv *Receiver) *forwarder {
	return &forwarder{tr: tr, rcv: rcv, b: newFrameBatch(1)}
}

func (f *forwarder) send(pkt *rtp.Packet, keyframe bool, arrival int64) {
	s := &f.b.slots[0]
	s.pkt, s.keyframe, s.arrival = *pkt, keyframe, arrival
	f.tr.forwardBatch(f.rcv, f.b.slots[:1])
}

// BenchmarkFanout100 forwards one 1,200-byte video packet to 100 viewers per op through the
// production path (one-packet batches: a bursty sender's frames batch more and cost less
// per packet). It must not allocate.
func BenchmarkFanout100(b *testing.B) {
	tr, rcv, writers := newBenchTrack(b, 100)
	payload := make([]byte, 1200)
	payload[0] = 0x65 // IDR: the first packet lets every DownTrack start
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: 1, SequenceNumber: 1, Timestamp: 1}, Payload: payload}
	now := time.Now().UnixNano()
	f := newForwarder(tr, rcv)
	f.send(&pkt, true, now)
	payload[0] = 0x41
	b.ReportAllocs()
	b.SetBytes(int64(len(payload) * 100))
	b.ResetTimer()
	for i := range b.N {
		pkt.SequenceNumber++
		if i%3 == 0 {
			pkt.Timestamp += 3000
		}
		f.send(&pkt, false, now+int64(i)*1000)
	}
	b.StopTimer()
	if writers[99].packets != b.N+1 {
		b.Fatalf("last viewer got %d packets, want %d", writers[99].packets, b.N+1)
	}
}

// BenchmarkReceiverCachePut is the per-packet cost of keeping the retransmission cache.
func BenchmarkReceiverCachePut(b *testing.B) {
	c := newPacketCache(1024)
	pkt := make([]byte, 1200)
	b.ReportAllocs()
	for i := range b.N {
		c.put(uint16(i), pkt)
	}
}

// TestFanoutDoesNotAllocate guards the benchmark's claim in the ordinary test run.
func TestFanoutDoesNotAllocate(t *testing.T) {
	tr, rcv, _ := newBenchTrack(t, 10)
	payload := make([]byte, 1200)
	payload[0] = 0x65
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: 1, SequenceNumber: 1, Timestamp: 1}, Payload: payload}
	now := time.Now().UnixNano()
	f := newForwarder(tr, rcv)
	f.send(&pkt, true, now)
	allocs := testing.AllocsPerRun(200, func() {
		pkt.SequenceNumber++
		f.send(&pkt, false, now)
	})
	if allocs != 0 {
		t.Fatalf("fan-out allocates %.1f times per packet", allocs)
	}
}
