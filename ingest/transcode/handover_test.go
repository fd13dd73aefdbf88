package transcode

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestOutputHandover: during a handover an output takes the running process's packets
// until the new process's first one, then the new one's alone; packets from any other
// local port, or with another SSRC, are never taken, nor those of a process the
// supervisor has moved on from, nor any once the output is forgotten (a shed rung).
func TestOutputHandover(t *testing.T) {
	const ssrc = 0x1234
	done := make(chan struct{})
	defer close(done)
	var activity atomic.Int64
	o, err := newOutput(ssrc, 96, 90000, newQueueSource(64, done), &activity)
	if err != nil {
		t.Fatal(err)
	}
	defer o.close()
	go o.readRTP()
	dst := o.rtp.LocalAddr().(*net.UDPAddr)
	proc := func() *net.UDPConn { // a process's RTP socket
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	port := func(c *net.UDPConn) int { return c.LocalAddr().(*net.UDPAddr).Port }
	seq := uint16(0)
	send := func(c *net.UDPConn, ssrc uint32, payload byte) {
		seq++
		b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, SSRC: ssrc}, Payload: []byte{payload}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteToUDP(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	// got reads what the output handed on within a moment: each packet's payload byte.
	got := func() []byte {
		var out []byte
		buf := make([]byte, 1500)
		for {
			select {
			case p := <-o.src.ch:
				n := copy(buf, p.buf[:p.n])
				packetPool.Put(p)
				var pkt rtp.Packet
				if err := pkt.Unmarshal(buf[:n]); err != nil {
					t.Fatal(err)
				}
				out = append(out, pkt.Payload[0])
			case <-time.After(300 * time.Millisecond):
				return out
			}
		}
	}

	old, next, stranger := proc(), proc(), proc()
	o.expect(port(old), 1, false)
	send(old, ssrc, 'a')
	send(stranger, ssrc, 'x')
	if g := string(got()); g != "a" {
		t.Fatalf("before the handover: took %q, want %q (the process's packet only)", g, "a")
	}
	o.expect(port(next), 2, true)
	if o.handedOver() {
		t.Fatal("a handover under way reads as done")
	}
	send(old, ssrc, 'b') // the old process goes on meanwhile
	send(next, 0x9999, 'y')
	send(stranger, ssrc, 'x')
	if g := string(got()); g != "b" {
		t.Fatalf("during the handover: took %q, want %q", g, "b")
	}
	send(next, ssrc, 'c') // the new process's first packet takes over
	send(old, ssrc, 'z')
	send(next, ssrc, 'd')
	if g := string(got()); g != "cd" {
		t.Fatalf("after the new process's first packet: took %q, want %q", g, "cd")
	}
	if !o.handedOver() {
		t.Fatal("the handover is not done after the new process's first packet")
	}
	// A handover that fails (the new process died before its first packet) and a restart
	// without one: the failed process's late packet is not taken, the restarted one's is.
	failed, restarted := proc(), proc()
	o.expect(port(failed), 3, true)
	o.expect(port(restarted), 4, false)
	send(failed, ssrc, 'q')
	send(restarted, ssrc, 'r')
	if g := string(got()); g != "r" {
		t.Fatalf("after a failed handover and a restart: took %q, want %q", g, "r")
	}
	o.forget()
	send(restarted, ssrc, 'e')
	if g := string(got()); g != "" {
		t.Fatalf("a forgotten output took %q", g)
	}
}
