package sfu

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// batchRig is a video Track with one recording viewer and a Receiver whose packets are fed
// to collect by hand, with chosen arrival times.
type batchRig struct {
	t   *testing.T
	rcv *Receiver
	b   *frameBatch
	rec *recordingWriter
}

func newBatchRig(t *testing.T) *batchRig {
	cfg := DefaultConfig()
	tr := newTrack(webrtc.RTPCodecTypeVideo, nil, nil, 1)
	rcv := newReceiver(tr, PublishedTrack{Codec: forwardedCodecs()[1], Kind: webrtc.RTPCodecTypeVideo, SSRC: 1}, &cfg, zap.NewNop())
	tr.attach(rcv)
	dt := newDownTrack(tr, "video", "t", LayerFull, zap.NewNop())
	rec := &recordingWriter{}
	dt.writer, dt.ssrc, dt.codecs, dt.ready = rec, 7, forwardedCodecs(), true
	tr.addDownTrack(dt)
	return &batchRig{t: t, rcv: rcv, b: newFrameBatch(maxBatch), rec: rec}
}

// feed adds a packet as Run would; the payload's first byte is its sequence number's low
// byte, so the test can see which packet went out.
func (g *batchRig) feed(seq uint16, ts uint32, marker bool, at time.Duration, first bool) {
	g.t.Helper()
	head := byte(0x41)
	if first {
		head = 0x65 // IDR: the viewer can start here
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: 1, SequenceNumber: seq, Timestamp: ts, Marker: marker},
		Payload: []byte{head, byte(seq), 0xaa, 0xbb}}
	s := &g.b.slots[g.b.n]
	raw, _ := pkt.Marshal()
	s.n = copy(s.buf[:], raw)
	if err := s.pkt.Unmarshal(s.buf[:s.n]); err != nil {
		g.t.Fatal(err)
	}
	s.arrival = int64(at)
	s.keyframe = first
	g.rcv.collect(g.b)
}

func (g *batchRig) sent() []byte {
	var ids []byte
	for _, p := range g.rec.payloads {
		ids = append(ids, p[1])
	}
	return ids
}

func TestFrameBatching(t *testing.T) {
	g := newBatchRig(t)
	us := time.Microsecond
	// A burst: held until its marker.
	g.feed(10, 1000, false, 0, true)
	g.feed(11, 1000, false, 10*us, false)
	if n := len(g.rec.payloads); n != 0 {
		t.Fatalf("%d packets out before the frame's marker", n)
	}
	g.feed(12, 1000, true, 20*us, false)
	if got := g.sent(); !bytes.Equal(got, []byte{10, 11, 12}) {
		t.Fatalf("after the marker sent %v", got)
	}
	// A paced sender: a packet 1 ms after the last one releases it on arrival.
	g.feed(13, 4000, false, 2000*us, false)
	g.feed(14, 4000, false, 3000*us, false)
	if got := g.sent(); !bytes.Equal(got, []byte{10, 11, 12, 13}) {
		t.Fatalf("paced packets: sent %v", got)
	}
	// A new timestamp releases the previous frame even without its marker.
	g.feed(15, 7000, false, 3010*us, false)
	if got := g.sent(); !bytes.Equal(got, []byte{10, 11, 12, 13, 14}) {
		t.Fatalf("frame change: sent %v", got)
	}
	// A late packet (a publisher's retransmission) goes out at once, after what was held.
	g.feed(9, 1000, false, 3020*us, false)
	if got := g.sent(); !bytes.Equal(got, []byte{10, 11, 12, 13, 14, 15}) {
		t.Fatalf("late packet: sent %v (packet 9 precedes the viewer's start and is dropped)", got)
	}
	g.feed(17, 7000, false, 3030*us, false)
	g.feed(16, 7000, true, 3040*us, false) // repair of a gap: out at once, with 17 before it
	if got := g.sent(); !bytes.Equal(got, []byte{10, 11, 12, 13, 14, 15, 17, 16}) {
		t.Fatalf("repair: sent %v", got)
	}
	// Payload bytes survive being moved to the front of the batch.
	for i, p := range g.rec.payloads {
		if len(p) != 4 || p[2] != 0xaa || p[3] != 0xbb {
			t.Fatalf("payload %d corrupted: %v", i, p)
		}
	}
}
