package loadtest

import (
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// A viewer's socket stamps each RTP packet as the kernel received it: the stamp lies
// between the send and the read even when the read comes much later, RTCP is not taken
// for RTP, and an unknown packet is not found.
func TestArrivalStampIsTheKernels(t *testing.T) {
	recv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	stamps := &arrivals{}
	c, ok := stampConn(recv, stamps)
	if !ok {
		t.Fatal("SO_TIMESTAMPNS refused on a UDP socket")
	}
	defer c.Close()
	send, err := net.DialUDP("udp4", nil, recv.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()

	// The kernel turns receive timestamps on for the whole machine a moment after the
	// first socket asks (a deferred static key): until then it stamps at the read. So a
	// packet is sent, left queued for 50 ms and read until one is stamped at its arrival;
	// one second of tries is far more than that takes.
	buf := make([]byte, 1500)
	rtcp := []byte{0x80, 200, 0, 6, 0xde, 0xca, 0xfb, 0xad, 0, 0, 0, 0} // a sender report's head
	var at, before, sent, read time.Time
	var seq0 uint16 // the packet stamped at its arrival
	for seq := uint16(4242); ; seq++ {
		pkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SequenceNumber: seq, SSRC: 0xdecafbad}, Payload: []byte{1, 2, 3}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		before = time.Now()
		for _, b := range [][]byte{pkt, rtcp} {
			if _, err := send.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		sent = time.Now()
		time.Sleep(50 * time.Millisecond) // the client's queue: a read well after the arrival
		for range 2 {
			if _, _, err := c.ReadFromAddrPort(buf); err != nil {
				t.Fatal(err)
			}
		}
		read = time.Now()
		var ok bool
		if at, ok = stamps.lookup(0xdecafbad, seq); !ok {
			t.Fatal("the RTP packet's arrival was not recorded")
		}
		if !at.Before(before.Add(-time.Millisecond)) && !at.After(sent.Add(time.Millisecond)) {
			seq0 = seq
			break
		}
		if seq-4242 >= 20 {
			t.Fatalf("arrival %v, want between the send (%v .. %v): it is the read's time, %v", at, before, sent, read)
		}
		stamps = &arrivals{}
		c.stamps = stamps
	}
	// Another stream's packet in the same slot keeps the first one's arrival.
	audio, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: seq0 + arrivalSlots, SSRC: 0xa0d10001}, Payload: []byte{1}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	stamps.note(audio, time.Now().UnixNano())
	if got, ok := stamps.lookup(0xdecafbad, seq0); !ok || !got.Equal(at) {
		t.Error("an audio packet in the same slot evicted the video packet's arrival")
	}
	if _, ok := stamps.lookup(0xdecafbad, seq0+arrivalSlots); ok {
		t.Error("a packet never received was found (same slot, another sequence number)")
	}
	if _, ok := stamps.lookup(0, 6); ok { // its bytes read as RTP's sequence number and SSRC
		t.Error("the RTCP packet was recorded as RTP")
	}
}

// rxTimestamp reads only a whole SCM_TIMESTAMPNS and never panics on a short or
// malformed control buffer.
func TestRxTimestampMalformed(t *testing.T) {
	for _, oob := range [][]byte{nil, {1}, make([]byte, 15), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 35, 0, 0, 0}, {16, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 35, 0, 0, 0}} {
		if _, ok := rxTimestamp(oob); ok {
			t.Errorf("rxTimestamp(%v) found a stamp", oob)
		}
	}
}
