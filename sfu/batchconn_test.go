package sfu

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBatchConnDeliversEveryDatagram: inside a batch, runs of equal-sized datagrams to one
// address go out as GSO writes; every datagram must still arrive whole, once and in order,
// whether GSO is used or not, and whether the two receivers share a send lane or not.
func TestBatchConnDeliversEveryDatagram(t *testing.T) {
	for _, c := range []struct {
		gso   bool
		lanes int
	}{{true, 1}, {false, 1}, {true, 5}} {
		gso, lanes := c.gso, c.lanes
		t.Run(fmt.Sprintf("gso=%v,lanes=%d", gso, lanes), func(t *testing.T) {
			tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			b := newBatchConn(tx, lanes)
			defer b.Close()
			if gso && !b.gso.Load() {
				t.Skip("this kernel has no UDP GSO; the fallback is tested below")
			}
			b.gso.Store(gso)
			rx := [2]*net.UDPConn{}
			for i := range rx {
				if rx[i], err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
					t.Fatal(err)
				}
				defer rx[i].Close()
			}
			// A frame for viewer 0 (9 full packets and a short last one), one for viewer 1,
			// then more for viewer 0: three runs, plus a lone packet outside any batch.
			var want [2][][]byte
			send := func(to int, size int, tag byte) {
				p := bytes.Repeat([]byte{tag}, size)
				p[0] = byte(len(want[to]))
				want[to] = append(want[to], p)
				if _, err := b.WriteToAddrPort(p, rx[to].LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
					t.Fatal(err)
				}
			}
			send(1, 300, 9) // not batched: goes at once
			for l := range lanes {
				b.begin(l)
			}
			for i := range 10 {
				size := 1216
				if i == 9 {
					size = 700
				}
				send(0, size, byte(i))
			}
			for i := range 5 {
				send(1, 1216, byte(20+i))
			}
			for i := range 3 {
				send(0, 1216, byte(40+i))
			}
			for l := range lanes {
				b.end(l)
			}
			for to := range rx {
				_ = rx[to].SetReadDeadline(time.Now().Add(2 * time.Second))
				buf := make([]byte, 2000)
				for i, w := range want[to] {
					n, _, err := rx[to].ReadFromUDP(buf)
					if err != nil {
						t.Fatalf("receiver %d, datagram %d: %v", to, i, err)
					}
					if !bytes.Equal(buf[:n], w) {
						t.Fatalf("receiver %d, datagram %d: got %d bytes starting %v, want %d bytes starting %v", to, i, n, buf[:2], len(w), w[:2])
					}
				}
			}
		})
	}
}

func TestBatchConnRuns(t *testing.T) {
	b := &sendLane{}
	a1 := mustAddrPort("127.0.0.1:1000")
	a2 := mustAddrPort("127.0.0.1:2000")
	sizes := []struct {
		to   int
		size int
	}{{1, 100}, {1, 100}, {1, 90}, {1, 100}, {2, 100}, {2, 120}, {1, 100}}
	for i, s := range sizes {
		addr := a1
		if s.to == 2 {
			addr = a2
		}
		b.q[i] = queued{addr: addr, n: s.size}
	}
	b.n = len(sizes)
	var runs []int
	for i := 0; i < b.n; {
		j := b.runEnd(i)
		runs = append(runs, j-i)
		i = j
	}
	// 100,100,90 | 100 | 100 (next is larger) | 120 | 100
	if fmt.Sprint(runs) != "[3 1 1 1 1]" {
		t.Fatalf("runs %v", runs)
	}
}

// loopbackUDP is a UDP socket on 127.0.0.1, closed when the test ends.
func loopbackUDP(tb testing.TB) *net.UDPConn {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// loopbackBatchConn is a media socket of the given lanes on 127.0.0.1, closed (its pacer
// stopped) when the test ends.
func loopbackBatchConn(tb testing.TB, lanes int) *batchConn {
	tb.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	b := newBatchConn(c, lanes)
	tb.Cleanup(func() { _ = b.Close() })
	return b
}

func mustAddrPort(s string) netip.AddrPort {
	u, err := net.ResolveUDPAddr("udp4", s)
	if err != nil {
		panic(err)
	}
	return u.AddrPort()
}

// TestBatchConnSendsPastARefusedDatagram: a flush is one sendmmsg; when the kernel refuses
// one of its messages (here datagrams to port 0, which UDP rejects), that message alone is
// dropped and counted, and the viewers queued after it still get theirs, in order and once,
// whether the refused datagrams went as one GSO message or one message each.
func TestBatchConnSendsPastARefusedDatagram(t *testing.T) {
	for _, gso := range []bool{true, false} {
		t.Run(fmt.Sprintf("gso=%v", gso), func(t *testing.T) {
			b := loopbackBatchConn(t, 1)
			b.gso.Store(gso && b.gso.Load())
			rx := [2]*net.UDPConn{loopbackUDP(t), loopbackUDP(t)}
			dropped := counterValue(t, packetsDropped)
			b.begin(0)
			write(t, b, bytes.Repeat([]byte{1}, 1216), rx[0].LocalAddr().(*net.UDPAddr).AddrPort())
			write(t, b, bytes.Repeat([]byte{2}, 1216), mustAddrPort("127.0.0.1:0"))
			write(t, b, bytes.Repeat([]byte{3}, 1216), mustAddrPort("127.0.0.1:0"))
			for i := range 3 {
				write(t, b, bytes.Repeat([]byte{byte(4 + i)}, 1216-i), rx[1].LocalAddr().(*net.UDPAddr).AddrPort())
			}
			b.end(0)
			if got := counterValue(t, packetsDropped) - dropped; got != 2 {
				t.Fatalf("%v datagrams counted dropped, want the 2 to port 0", got)
			}
			expectTags(t, rx[0], 1)
			expectTags(t, rx[1], 4, 5, 6)
		})
	}
}

// TestBatchConnSendsARefusedRunOneByOne: a GSO message the kernel refuses while it takes
// the same datagrams one by one (on a path whose MTU is under the run's segments it answers
// EMSGSIZE; here the socket's SO_NO_CHECK makes it answer EINVAL) is sent again a datagram
// at a time, not lost, and GSO stays on for the runs it does take.
func TestBatchConnSendsARefusedRunOneByOne(t *testing.T) {
	b := loopbackBatchConn(t, 1)
	if !b.gso.Load() {
		t.Skip("no UDP GSO in this kernel: nothing is sent as a GSO message")
	}
	if err := unix.SetsockoptInt(b.fd, unix.SOL_SOCKET, unix.SO_NO_CHECK, 1); err != nil {
		t.Skipf("SO_NO_CHECK: %v", err)
	}
	rx := loopbackUDP(t)
	dropped := counterValue(t, packetsDropped)
	b.begin(0)
	for i := range 4 {
		write(t, b, bytes.Repeat([]byte{byte(1 + i)}, 1216), rx.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	b.end(0)
	expectTags(t, rx, 1, 2, 3, 4)
	if got := counterValue(t, packetsDropped) - dropped; got != 0 {
		t.Fatalf("%v datagrams counted dropped", got)
	}
	if !b.gso.Load() {
		t.Fatal("GSO was turned off for a refusal that was not the device's")
	}
}

// write queues p to addr on b, failing t on an error.
func write(t *testing.T, b *batchConn, p []byte, addr netip.AddrPort) {
	t.Helper()
	if _, err := b.WriteToAddrPort(p, addr); err != nil {
		t.Fatal(err)
	}
}

// expectTags reads datagrams from c, each filled with one tag byte, and fails unless they
// are tags, in that order, and nothing more comes.
func expectTags(t *testing.T, c *net.UDPConn, tags ...byte) {
	t.Helper()
	buf := make([]byte, 2000)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for _, tag := range tags {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", tag, err)
		}
		if buf[0] != tag || buf[n-1] != tag {
			t.Fatalf("got datagram %d, want %d", buf[0], tag)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := c.ReadFromUDP(buf); err == nil {
		t.Fatalf("an extra datagram (%d bytes, tag %d) after %v", n, buf[0], tags)
	}
}

// TestBatchConnSendsToAnIPv6Viewer: datagrams to an address that cannot join a sendmmsg
// (an IPv6 peer: the batch builds IPv4 addresses only) go one at a time, in order and
// once, from a flush and from a paced viewer's held queue, which is emptied after.
func TestBatchConnSendsToAnIPv6Viewer(t *testing.T) {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	b := newBatchConn(listen(), 1)
	t.Cleanup(func() { _ = b.Close() })
	rx := listen()
	to := rx.LocalAddr().(*net.UDPAddr).AddrPort()
	if b.batchable(to) {
		t.Fatalf("%v batchable", to)
	}
	b.begin(0)
	for tag := range byte(3) {
		write(t, b, bytes.Repeat([]byte{tag + 1}, 1200), to) // one GSO run's worth
	}
	write(t, b, bytes.Repeat([]byte{4}, 600), to)
	b.end(0)
	expectTags(t, rx, 1, 2, 3, 4)

	l := &b.lanes[0]
	ps := &paceState{addr: to}
	l.mu.Lock()
	for tag := range byte(5) {
		if !b.hold(l, ps, bytes.Repeat([]byte{tag + 5}, 1000)) {
			l.mu.Unlock()
			t.Fatalf("datagram %d not held", tag+5)
		}
	}
	b.sendHeld(l, ps, false)
	waiting, held := ps.waiting(), l.heldN
	l.mu.Unlock()
	if waiting != 0 || held != 0 {
		t.Fatalf("after sending: %d waiting, %d held by the lane; want none", waiting, held)
	}
	expectTags(t, rx, 5, 6, 7, 8, 9)
}
