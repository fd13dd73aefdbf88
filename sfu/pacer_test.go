package sfu

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// pacedReceiver reads numbered datagrams (a big-endian uint32 first) on a loopback socket
// until it has want of them or nothing comes for quiet.
type pacedReceiver struct {
	conn *net.UDPConn
	mu   sync.Mutex
	seqs []uint32
	at   []time.Time
	done chan struct{}
}

func newPacedReceiver(t *testing.T, readBuffer int) *pacedReceiver {
	t.Helper()
	c := loopbackUDP(t)
	if err := c.SetReadBuffer(readBuffer); err != nil {
		t.Fatal(err)
	}
	return &pacedReceiver{conn: c, done: make(chan struct{})}
}

func (r *pacedReceiver) addr() netip.AddrPort { return r.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// read runs until want datagrams came or none for quiet.
func (r *pacedReceiver) read(want int, quiet time.Duration) {
	defer close(r.done)
	buf := make([]byte, 2048)
	for {
		_ = r.conn.SetReadDeadline(time.Now().Add(quiet))
		n, _, err := r.conn.ReadFromUDP(buf)
		if err != nil || n < 4 {
			return
		}
		r.mu.Lock()
		r.seqs = append(r.seqs, binary.BigEndian.Uint32(buf))
		r.at = append(r.at, time.Now())
		full := len(r.seqs) == want
		r.mu.Unlock()
		if full {
			return
		}
	}
}

// result waits for read to end and reports what came: how many, whether in order, and the
// time from the first to the last.
func (r *pacedReceiver) result() (got int, inOrder bool, span time.Duration) {
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	inOrder = true
	for i := 1; i < len(r.seqs); i++ {
		if r.seqs[i] <= r.seqs[i-1] {
			inOrder = false
		}
	}
	if len(r.at) > 1 {
		span = r.at[len(r.at)-1].Sub(r.at[0])
	}
	return len(r.seqs), inOrder, span
}

// burst writes n numbered datagrams of size bytes to addr in one batch on every lane, as a
// keyframe's fan-out does, with one write outside the batch (RTCP, a retransmission) in
// the middle of the burst's sending: it must queue behind what the pacer holds.
func burst(t *testing.T, b *batchConn, addr netip.AddrPort, first uint32, n, size int) {
	t.Helper()
	p := make([]byte, size)
	for l := range b.lanes {
		b.begin(l)
	}
	for i := range n {
		binary.BigEndian.PutUint32(p, first+uint32(i))
		if _, err := b.WriteToAddrPort(p, addr); err != nil {
			t.Fatal(err)
		}
	}
	for l := range b.lanes {
		b.end(l)
	}
	binary.BigEndian.PutUint32(p, first+uint32(n))
	if _, err := b.WriteToAddrPort(p[:200], addr); err != nil {
		t.Fatal(err)
	}
}

// TestPacerSpreadsABurstInOrder: a paced viewer gets a 300-datagram burst whole and in
// order (with a write outside the batch after it), no faster than its pacing rate allows
// after the burst allowance, while an unpaced viewer on the same socket gets its own burst
// at once. With GSO and without, on one lane and several.
func TestPacerSpreadsABurstInOrder(t *testing.T) {
	for _, c := range []struct {
		name  string
		gso   bool
		lanes int
	}{{"gso", true, 1}, {"no-gso", false, 1}, {"lanes", true, 4}} {
		t.Run(c.name, func(t *testing.T) {
			b := loopbackBatchConn(t, c.lanes)
			b.gso.Store(c.gso && b.gso.Load())

			const n, size, bps = 300, 1200, 4_000_000 // paced at 10 Mbit/s: 1.25 bytes a µs
			paced, free := newPacedReceiver(t, 4<<20), newPacedReceiver(t, 4<<20)
			b.setPace(paced.addr(), bps)
			go paced.read(n+1, 2*time.Second)
			go free.read(n+1, 2*time.Second)
			burst(t, b, paced.addr(), 0, n, size)
			burst(t, b, free.addr(), 0, n, size)

			got, inOrder, span := paced.result()
			if got != n+1 || !inOrder {
				t.Fatalf("paced viewer: %d of %d datagrams, in order %v", got, n+1, inOrder)
			}
			// A lower bound only: the pacer may be late on a busy machine, never early.
			rate := pacingFactor * bps / 8 / 1e6 // bytes a µs
			// Four fifths of it: the receiver may read the first datagrams late (a busy
			// machine), which shortens the span it sees; an unpaced burst takes about 1 ms.
			allowance := max(paceBurstMin, rate*float64(paceBurstTime/time.Microsecond))
			least := time.Duration(0.8*(float64(n*size-2*size)-allowance)/rate) * time.Microsecond
			t.Logf("paced viewer: %d datagrams over %v (bound: %v)", got, span.Round(time.Millisecond), least.Round(time.Millisecond))
			if span < least {
				t.Fatalf("paced viewer got %d bytes in %v, faster than its pacing rate allows (%v)", n*size, span, least)
			}
			if got, inOrder, _ := free.result(); got != n+1 || !inOrder {
				t.Fatalf("unpaced viewer: %d of %d datagrams, in order %v", got, n+1, inOrder)
			}
		})
	}
}

// TestPacerAvoidsReceiveBufferOverflow is why the pacer exists: a viewer whose socket
// buffer is small (32 KiB asked, 64 KiB given: about 28 datagrams) reads a 100-datagram
// keyframe burst. Sent at once in GSO runs of 40, the kernel drops what the buffer cannot
// hold before the viewer can read it (the control, which must lose some, or this test could
// not tell); paced to a 2 Mbit/s estimate, every datagram arrives.
func TestPacerAvoidsReceiveBufferOverflow(t *testing.T) {
	b := loopbackBatchConn(t, 1)
	if !b.gso.Load() {
		t.Skip("no UDP GSO in this kernel: an unpaced burst leaves one datagram at a time and need not overflow")
	}
	const n, size = 100, 1200

	control := newPacedReceiver(t, 32<<10)
	go control.read(n+1, 500*time.Millisecond)
	burst(t, b, control.addr(), 0, n, size)
	lost, _, _ := control.result()
	lost = n + 1 - lost
	t.Logf("unpaced: %d of %d datagrams lost to the receive buffer", lost, n+1)
	if lost == 0 {
		t.Fatal("the unpaced burst overflowed nothing: this test cannot tell pacing from none")
	}

	viewer := newPacedReceiver(t, 32<<10)
	b.setPace(viewer.addr(), 2_000_000)
	go viewer.read(n+1, 2*time.Second)
	burst(t, b, viewer.addr(), 0, n, size)
	got, inOrder, span := viewer.result()
	t.Logf("paced to 2 Mbit/s: %d of %d datagrams in %v, in order %v", got, n+1, span.Round(time.Millisecond), inOrder)
	if got != n+1 || !inOrder {
		t.Fatalf("paced: %d of %d datagrams arrived (in order %v), want all", got, n+1, inOrder)
	}
}

// TestPacerForgetsAViewer: what a viewer that left still held is dropped and its buffers
// are kept for others; pacing it at 0 sends what it held at once and stops pacing it.
func TestPacerForgetsAViewer(t *testing.T) {
	b := loopbackBatchConn(t, 1)
	l := &b.lanes[0]

	gone := newPacedReceiver(t, 4<<20)
	b.setPace(gone.addr(), 1_000_000) // 312 bytes a ms: the burst allowance, then a trickle
	burst(t, b, gone.addr(), 0, 50, 1200)
	l.mu.Lock()
	held := l.heldN
	l.mu.Unlock()
	if held < 40 {
		t.Fatalf("%d of 51 datagrams held at 1 Mbit/s, want all but the burst allowance", held)
	}
	b.forgetPace(gone.addr())
	l.mu.Lock()
	if l.heldN != 0 || len(l.free) != held || len(l.pace) != 0 || len(l.active) != 0 {
		t.Errorf("after forgetting: %d held, %d free buffers (want %d), %d paced, %d active", l.heldN, len(l.free), held, len(l.pace), len(l.active))
	}
	l.mu.Unlock()

	stays := newPacedReceiver(t, 4<<20)
	b.setPace(stays.addr(), 1_000_000)
	go stays.read(51, 2*time.Second)
	burst(t, b, stays.addr(), 0, 50, 1200)
	b.setPace(stays.addr(), 0) // no estimate any more: unpaced
	if got, inOrder, _ := stays.result(); got != 51 || !inOrder {
		t.Fatalf("unpaced after pacing: %d of 51 datagrams, in order %v", got, inOrder)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.heldN != 0 || len(l.pace) != 0 {
		t.Errorf("after unpacing: %d held, %d paced; want none", l.heldN, len(l.pace))
	}
}

// TestPacerBoundsAViewersDelay: a viewer whose estimate (100 kbit/s) is far below what it
// is sent (a 61 KB burst: two seconds at its rate) is not made to wait seconds for its
// picture: past maxPaceDelay its queue goes at once, and the overflow is counted.
func TestPacerBoundsAViewersDelay(t *testing.T) {
	b := loopbackBatchConn(t, 1)
	v := newPacedReceiver(t, 4<<20)
	b.setPace(v.addr(), 100_000)
	before := overflows()
	go v.read(51, 2*time.Second)
	start := time.Now()
	burst(t, b, v.addr(), 0, 50, 1200)
	got, inOrder, _ := v.result()
	took := time.Since(start)
	t.Logf("%d of 51 datagrams in %v", got, took.Round(time.Millisecond))
	if got != 51 || !inOrder {
		t.Fatalf("%d of 51 datagrams, in order %v", got, inOrder)
	}
	if took > maxPaceDelay+time.Second { // a bound on a failure only: paced, it takes 2 s
		t.Errorf("the burst took %v: held past maxPaceDelay (%v)", took, maxPaceDelay)
	}
	if overflows() == before {
		t.Error("glint_sfu_pacer_overflows_total did not count the queue that went at once")
	}
}

// BenchmarkPacedFanout is one viewer's share of frames through a send lane, a frame of 24
// datagrams: unpaced (one GSO send), and paced to a 1 Mbit/s estimate, where each frame is
// more than the bucket allows (15 of 24 datagrams are held and sent in the pacer's passes).
// The difference is the pacer's cost; neither may allocate per frame once the lane's
// buffers exist.
func BenchmarkPacedFanout(b *testing.B) {
	for _, c := range []struct {
		name string
		bps  int
	}{{"unpaced", 0}, {"paced", 1_000_000}} {
		b.Run(c.name, func(b *testing.B) {
			tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			bc := newBatchConn(tx, 1)
			defer bc.Close()
			rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer rx.Close()
			go func() { // drain, so that sends are not refused
				buf := make([]byte, 2048)
				for {
					if _, _, err := rx.ReadFromUDPAddrPort(buf); err != nil {
						return
					}
				}
			}()
			addr := rx.LocalAddr().(*net.UDPAddr).AddrPort()
			bc.setPace(addr, c.bps)
			l := &bc.lanes[0]
			p := make([]byte, 1200)
			now := time.Now().UnixNano()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				bc.begin(0)
				for range 24 {
					_, _ = bc.WriteToAddrPort(p, addr)
				}
				bc.end(0)
				// The frame's held part goes in the pacer's next passes, a bucket at a time.
				for now += int64(time.Second); bc.drainLane(l, now) != 0; now += int64(time.Second) {
				}
			}
		})
	}
}

// overflows reads glint_sfu_pacer_overflows_total.
func overflows() float64 { return counterValue(nil, pacerOverflows) }

// counterValue reads a counter's value; a counter that cannot be read fails t (or, without
// one, reads as -1, which no count equals).
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		if t != nil {
			t.Fatal(err)
		}
		return -1
	}
	return m.GetCounter().GetValue()
}

// TestPacerSendsALongQueueInOrder: a queue longer than one sendmmsg holds goes out in
// several, the queue compacted between them (its indexes move), and still every datagram
// arrives once and in order, each held buffer back on the lane's free list.
func TestPacerSendsALongQueueInOrder(t *testing.T) {
	for _, gso := range []bool{true, false} {
		t.Run(fmt.Sprintf("gso=%v", gso), func(t *testing.T) {
			b := loopbackBatchConn(t, 1)
			b.gso.Store(gso && b.gso.Load())
			v := newPacedReceiver(t, 4<<20)
			const n = 3*maxQueued/2 + 7 // two batches' worth, and a compaction between
			go v.read(n, time.Second)
			l := &b.lanes[0]
			ps := &paceState{addr: v.addr()}
			p := make([]byte, 100)
			l.mu.Lock()
			for i := range n {
				binary.BigEndian.PutUint32(p, uint32(i))
				if !b.hold(l, ps, p) {
					l.mu.Unlock()
					t.Fatalf("datagram %d not held", i)
				}
			}
			b.sendHeld(l, ps, false)
			waiting, held, free := ps.waiting(), l.heldN, len(l.free)
			l.mu.Unlock()
			if waiting != 0 || held != 0 || free != n {
				t.Fatalf("after sending: %d waiting, %d held by the lane, %d free buffers; want 0, 0, %d", waiting, held, free, n)
			}
			if got, inOrder, _ := v.result(); got != n || !inOrder {
				t.Fatalf("%d of %d datagrams, in order %v", got, n, inOrder)
			}
		})
	}
}

// BenchmarkPacedFanout100 is a keyframe of 24 datagrams to each of 100 paced viewers, then
// the pacer's passes until every queue has drained: each pass serves every viewer a
// bucket's worth, all of it in one sendmmsg (queueHeld). The viewers' sockets are not read.
func BenchmarkPacedFanout100(b *testing.B) {
	const viewers = 100
	bc := loopbackBatchConn(b, 1)
	addrs := make([]netip.AddrPort, viewers)
	for i := range addrs {
		addrs[i] = loopbackUDP(b).LocalAddr().(*net.UDPAddr).AddrPort()
		bc.setPace(addrs[i], 1_000_000)
	}
	l := &bc.lanes[0]
	p := make([]byte, 1200)
	now := time.Now().UnixNano()
	keyframe := func() {
		for _, addr := range addrs {
			bc.begin(0)
			for range 24 {
				_, _ = bc.WriteToAddrPort(p, addr)
			}
			bc.end(0)
		}
		for now += int64(time.Second); bc.drainLane(l, now) != 0; now += int64(time.Second) {
		}
	}
	keyframe() // the held buffers are allocated once, then reused
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		keyframe()
	}
}
