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

	pkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SequenceNumber: 4242, SSRC: 0xdecafbad}, Payload: []byte{1, 2, 3}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rtcp := []byte{0x80, 200, 0, 6, 0xde, 0xca, 0xfb, 0xad, 0, 0, 0, 0} // a sender report's head
	before := time.Now()
	for _, b := range [][]byte{pkt, rtcp} {
		if _, err := send.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	sent := time.Now()
	time.Sleep(50 * time.Millisecond) // the client's queue: a read well after the arrival
	buf := make([]byte, 1500)
	for range 2 {
		if _, _, err := c.ReadFromAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}
	read := time.Now()

	at, ok := stamps.lookup(0xdecafbad, 4242)
	if !ok {
		t.Fatal("the RTP packet's arrival was not recorded")
	}
	if at.Before(before.Add(-time.Millisecond)) || at.After(sent.Add(time.Millisecond)) {
		t.Errorf("arrival %v, want between the send (%v .. %v): it is the read's time, %v", at, before, sent, read)
	}
	if _, ok := stamps.lookup(0xdecafbad, 4242+arrivalSlots); ok {
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
