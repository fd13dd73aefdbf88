package sfu

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/simulcast"
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

// TestNacksForLostCausesLeaveTheBudget: a viewer that keeps asking for packets nobody can
// resend (an earlier layer's, after a switch: pion's NACK generator asks for them again
// every round trip for seconds) does not use up its retransmission budget, so a packet it
// really lost is still resent.
func TestNacksForLostCausesLeaveTheBudget(t *testing.T) {
	_, _, w, dt := feed(t, 20)
	last, _ := dt.munger.LastOut()
	first := last - 19 // the DownTrack's first output packet
	for round := range 3 * rtxBurst / maxNackedPerPacket {
		gone := &rtcp.TransportLayerNack{MediaSSRC: dt.ssrc}
		for i := range maxNackedPerPacket / 16 {
			gone.Nacks = append(gone.Nacks, rtcp.NackPair{PacketID: first - uint16(1000-round*64-i*16), LostPackets: 0x7fff})
		}
		dt.HandleRTCP([]rtcp.Packet{gone})
	}
	before := w.packets
	dt.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: dt.ssrc, Nacks: []rtcp.NackPair{{PacketID: first + 5}}}})
	if w.packets != before+1 {
		t.Fatalf("a lost packet was not resent after %d NACKs for packets that cannot be: %d retransmissions", 3*rtxBurst, w.packets-before)
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

// TestSwitchAsksTheNewLayerAtOnce: a viewer waiting for a keyframe of h that is moved down
// to q (congestion) asks q for a keyframe at once, not after h's retry interval: the
// retry paces asking one layer again, not asking another.
func TestSwitchAsksTheNewLayerAtOnce(t *testing.T) {
	cfg := DefaultConfig()
	tr := newTrack(webrtc.RTPCodecTypeVideo, nil, nil, 1)
	codec := forwardedCodecs()[1] // H.264 constrained baseline
	var plis [numLayers]atomic.Int32
	rcvs := make([]*Receiver, numLayers)
	for l := range rcvs {
		rcvs[l] = newReceiver(tr, PublishedTrack{Codec: codec, Kind: webrtc.RTPCodecTypeVideo, SSRC: uint32(10 + l),
			WriteRTCP: func([]rtcp.Packet) error { plis[l].Add(1); return nil }}, &cfg, zap.NewNop())
		rcvs[l].layer = l
		tr.attach(rcvs[l])
	}
	dt := newDownTrack(tr, "video", "test", LayerFull, zap.NewNop())
	dt.writer, dt.ssrc, dt.codecs, dt.ready = &countingWriter{}, 1000, forwardedCodecs(), true
	tr.addDownTrack(dt)

	delta := func(r *Receiver, seq uint16) {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: r.src.SSRC, SequenceNumber: seq, Timestamp: uint32(seq) * 3000},
			Payload: []byte{0x41, 1, 2, 3}}
		b := newFrameBatch(1)
		b.slots[0].pkt, b.slots[0].arrival = pkt, time.Now().UnixNano()
		tr.forwardBatch(r, b.slots[:1])
	}
	waitPLI := func(l int) {
		t.Helper()
		for deadline := time.Now().Add(2 * time.Second); plis[l].Load() == 0; {
			if time.Now().After(deadline) {
				t.Fatalf("no keyframe request to layer %s; requests %v %v %v", LayerName(l), plis[0].Load(), plis[1].Load(), plis[2].Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	dt.allocate(LayerMid, simulcast.AllTemporal, 0, 0, time.Now())
	delta(rcvs[LayerMid], 1)
	waitPLI(LayerMid)
	dt.allocate(LayerLow, simulcast.AllTemporal, 0, 0, time.Now()) // congestion: down again before h's keyframe came
	delta(rcvs[LayerLow], 1)
	waitPLI(LayerLow)
}

// TestProbeStartsWithoutABurst: a probe that starts long after the last one pads each frame
// with its share of the probe rate from the probe's start: not with the whole time since
// the last probe ended (that burst queued the viewer's media behind it on a full link: a
// stall per probe), and not with nothing on its first frame (a short probe of a low layer
// then sent too few packets to be measured).
func TestProbeStartsWithoutABurst(t *testing.T) {
	tr, rcv, writers := newBenchTrack(t, 1)
	dt, w := tr.snapshot()[0], writers[0]
	f := newForwarder(tr, rcv)
	t0 := time.Now()
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 33 * time.Millisecond) }
	frame := func(i int) int {
		before := w.packets
		payload := []byte{0x41, 1, 2, 3}
		if i == 0 {
			payload[0] = 0x65
		}
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: 1, SequenceNumber: uint16(i), Timestamp: uint32(i * 3000), Marker: true}, Payload: payload}
		f.send(&pkt, i == 0, at(i).UnixNano())
		return w.packets - before - 1
	}
	const probe = 600_000 // 2,475 bytes a frame: 9 packets
	perFrame := probe / 8 * 33 / 1000 / paddingPacketSize
	frame(0) // the keyframe the viewer starts at
	for i := range 4 {
		first := i*100 + 1
		dt.allocate(LayerFull, simulcast.AllTemporal, probe, 1_000_000, at(first-1)) // a frame before
		for j := range 3 {
			if n := frame(first + j); n < perFrame-1 || n > perFrame+1 {
				t.Fatalf("probe %d, frame %d: %d padding packets, want %d±1", i, j, n, perFrame)
			}
		}
		dt.allocate(LayerFull, simulcast.AllTemporal, 0, 1_000_000, at(first+2))
		for j := first + 3; j < first+99; j++ {
			if n := frame(j); n != 0 {
				t.Fatalf("%d padding packets with no probe", n)
			}
		}
	}
}

// TestResendGuardFollowsTheRoundTrip: a packet whose retransmission was lost too is resent
// again as soon as a round trip has passed (measured from the viewer's receiver report on
// a forwarded sender report), not only after a fixed 100 ms: a viewer asks again about
// then, and each refusal cost a further NACK interval (a freeze, on a 5 % loss link).
// Within the round trip a repeated NACK is still not answered twice.
func TestResendGuardFollowsTheRoundTrip(t *testing.T) {
	_, rcv, w, dt := feed(t, 20)
	dt.mu.Lock()
	dt.writeRTCP = func([]rtcp.Packet) error { return nil }
	dt.mu.Unlock()
	// Explicit times, so the test does not depend on how long a sleep really takes.
	t0 := time.Now()
	const ntp = uint64(0x1234_5678_9abc_def0)
	dt.onSenderReport(rcv, &rtcp.SenderReport{SSRC: rcv.src.SSRC, NTPTime: ntp}, t0)
	dt.handleRTCP([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{
		SSRC: dt.ssrc, LastSenderReport: uint32(ntp >> 16 & 0xffffffff), Delay: 65536 * 10 / 1000, // held 10 ms
	}}}}, t0.Add(30*time.Millisecond))
	dt.mu.Lock()
	rtt := dt.rtt.rtt
	dt.mu.Unlock()
	if rtt < 19*time.Millisecond || rtt > 21*time.Millisecond {
		t.Fatalf("measured a round trip of %v, want 20 ms", rtt)
	}

	last, _ := dt.munger.LastOut()
	nack := []rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: dt.ssrc, Nacks: []rtcp.NackPair{{PacketID: last - 5}}}}
	before := w.packets
	first := t0.Add(40 * time.Millisecond)
	dt.handleRTCP(nack, first)
	dt.handleRTCP(nack, first.Add(rtt/2)) // the same NACK within the round trip
	if n := w.packets - before; n != 1 {
		t.Fatalf("a NACK repeated within the round trip caused %d retransmissions, want 1", n)
	}
	again := rtt + 20*time.Millisecond    // well below a fixed 100 ms guard
	dt.handleRTCP(nack, first.Add(again)) // asked again a round trip later: the retransmission was lost
	if n := w.packets - before; n != 2 {
		t.Fatalf("a NACK repeated %v after the first (round trip %v) caused %d retransmissions in all, want 2", again, rtt, n)
	}
}
