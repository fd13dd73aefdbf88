package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// feed sends n video packets (the first a keyframe) through a Track with one DownTrack.
func feed(t *testing.T, n int) (*Track, *Receiver, *countingWriter, *DownTrack) {
	t.Helper()
	tr, rcv, writers := newBenchTrack(t, 1)
	dt := tr.snapshot()[0]
	f := newForwarder(tr, rcv)
	payload := make([]byte, 1000)
	for i := range n {
		payload[0] = 0x41
		if i == 0 {
			payload[0] = 0x65
		}
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: 1, SequenceNumber: uint16(100 + i), Timestamp: uint32(i / 3 * 3000)}, Payload: payload}
		raw, _ := pkt.Marshal()
		rcv.cache.put(pkt.SequenceNumber, raw)
		f.send(&pkt, i == 0, time.Now().UnixNano())
	}
	return tr, rcv, writers[0], dt
}

// TestNackIsBoundedAndDeduplicated: one RTCP NACK naming the same packets hundreds of times
// (a hostile or broken viewer) causes at most maxNackedPerPacket retransmissions, and
// repeating it at once causes none.
func TestNackIsBoundedAndDeduplicated(t *testing.T) {
	_, _, w, dt := feed(t, 200)
	sent := w.packets
	nack := &rtcp.TransportLayerNack{MediaSSRC: dt.ssrc}
	for range 360 {
		nack.Nacks = append(nack.Nacks, rtcp.NackPair{PacketID: 110, LostPackets: 0xffff})
	}
	dt.HandleRTCP([]rtcp.Packet{nack})
	first := w.packets - sent
	if first == 0 || first > 17 {
		t.Fatalf("a NACK for 17 distinct packets caused %d retransmissions", first)
	}
	dt.HandleRTCP([]rtcp.Packet{nack})
	if again := w.packets - sent - first; again != 0 {
		t.Fatalf("the same NACK repeated at once caused %d more retransmissions", again)
	}
	wide := &rtcp.TransportLayerNack{MediaSSRC: dt.ssrc}
	for id := uint16(130); id < 290; id += 17 {
		wide.Nacks = append(wide.Nacks, rtcp.NackPair{PacketID: id, LostPackets: 0xffff})
	}
	before := w.packets
	dt.HandleRTCP([]rtcp.Packet{wide})
	if n := w.packets - before; n > maxNackedPerPacket {
		t.Fatalf("one NACK caused %d retransmissions, limit %d", n, maxNackedPerPacket)
	}
}

// TestNackForAnotherTrackIsIgnored: pion hands a compound packet to every SSRC it names.
func TestNackForAnotherTrackIsIgnored(t *testing.T) {
	_, _, w, dt := feed(t, 20)
	before := w.packets
	dt.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: dt.ssrc + 1, Nacks: []rtcp.NackPair{{PacketID: 105}}}})
	if w.packets != before {
		t.Fatal("a NACK about another SSRC was answered")
	}
}

// TestRetransmissionIsExact: the resent packet carries the sequence number and timestamp
// the viewer first saw.
func TestRetransmissionIsExact(t *testing.T) {
	tr, rcv, writers := newBenchTrack(t, 1)
	rec := &recordingWriter{}
	dt := tr.snapshot()[0]
	dt.writer = rec
	_ = writers
	payload := []byte{0x65, 1, 2, 3}
	f := newForwarder(tr, rcv)
	for i := range 5 {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: 1, SequenceNumber: uint16(65534 + i), Timestamp: uint32(1000 * i)}, Payload: payload}
		raw, _ := pkt.Marshal()
		rcv.cache.put(pkt.SequenceNumber, raw)
		f.send(&pkt, i == 0, time.Now().UnixNano())
		payload[0] = 0x41
	}
	orig := rec.headers[2]
	dt.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: dt.ssrc, Nacks: []rtcp.NackPair{{PacketID: orig.SequenceNumber}}}})
	if len(rec.headers) != 6 {
		t.Fatalf("%d writes, want 5 and one retransmission", len(rec.headers))
	}
	if got := rec.headers[5]; got.SequenceNumber != orig.SequenceNumber || got.Timestamp != orig.Timestamp || got.SSRC != orig.SSRC {
		t.Fatalf("retransmitted %+v, first sent %+v", got, orig)
	}
}

type recordingWriter struct {
	headers  []rtp.Header
	payloads [][]byte
}

func (w *recordingWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	w.headers = append(w.headers, *h)
	w.payloads = append(w.payloads, append([]byte(nil), payload...))
	return len(payload), nil
}

func (w *recordingWriter) Write(b []byte) (int, error) { return len(b), nil }
