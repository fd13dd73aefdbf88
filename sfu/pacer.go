package sfu

import (
	"net/netip"
	"sync"
	"time"
)

// Pacing. Without it a keyframe leaves for each viewer as one GSO burst: the ladder's first
// IDR (~470 datagrams) arrived faster than a viewer's socket was read and overflowed its
// buffer (docs/BENCHMARKS.md, 25-31 RcvbufErrors), and on a real path the same burst fills
// the bottleneck's queue. A paced viewer's datagrams leave at most pacingFactor times its
// bandwidth estimate, after a burst allowance that lets an ordinary frame out at once: a
// keyframe is spread over a few milliseconds (a few tens at low estimates), and what must
// wait is held in the viewer's own queue, so one slow viewer never holds back another.
//
// Pacing lives in the media socket (batchConn), after encryption: every datagram to the
// viewer's address passes through it in order (media, retransmissions, padding probes,
// RTCP), so a held queue can never be overtaken. Only the fan-out's batches are charged to
// the bucket; writes outside a batch (RTCP, most retransmissions) wait behind what is held
// but are not counted against the viewer's rate. A viewer without an estimate (a host
// without simulcast: no layer to choose, so no estimation is run) is not paced.
const (
	// pacingFactor is libwebrtc's pacing rate over the estimate: enough headroom for the
	// estimate's own probing, far below a line-rate burst.
	pacingFactor = 2.5
	// paceBurstMin is the burst allowance's floor, in bytes: about eight full datagrams, an
	// ordinary delta frame of a 2.5 Mbit/s stream. paceBurstTime scales it up with the
	// pacing rate (at 25 Mbit/s, 20 ms is 62 KB, a 720p keyframe). Measured on loopback
	// (docs/BENCHMARKS.md), 5 ms held keyframes back 13 ms at the median for viewers whose
	// path had room for them; 20 ms costs nothing there and still spreads what would
	// overflow: a slow viewer's keyframe, a ladder's first IDR (hundreds of datagrams).
	paceBurstMin  = 10_000
	paceBurstTime = 20 * time.Millisecond
	// maxHeldPerLane bounds the datagrams a lane holds for all its viewers (1.5 KB each,
	// allocated as first needed and reused: at most 6 MiB a lane); beyond it a viewer's
	// queue is sent at once, unpaced, rather than dropped.
	maxHeldPerLane = 4096
	// maxPaceDelay bounds what one viewer's queue holds, in time at its rate: an estimate
	// that has collapsed while the viewer still gets a layer it cannot carry must not build
	// a queue that delays its picture by seconds. Beyond it the queue goes at once (what
	// the link cannot carry it drops, and the allocator moves the viewer down).
	maxPaceDelay = 500 * time.Millisecond
	// minPaceWait is the shortest the pacer sleeps: finer than that costs more wake-ups
	// than it spreads.
	minPaceWait = 250 * time.Microsecond
)

// paceState is one viewer address's pacing: a token bucket and the datagrams waiting for it.
type paceState struct {
	addr   netip.AddrPort
	rate   float64 // bytes per nanosecond; 0: unpaced (what is held leaves at once)
	burst  float64 // the bucket's depth, bytes
	tokens float64 // may go below zero by one datagram: the debt is paid before the next
	last   int64   // unix nanos the bucket was last filled
	held   []*heldDatagram
	head   int // held[head:] wait, oldest first
	bytes  int // held bytes
	active bool
}

type heldDatagram struct {
	n   int
	buf [maxPacketSize]byte
}

// setRate sets the pacing rate from a bandwidth estimate in bits per second (0: unpaced).
func (ps *paceState) setRate(bps int) {
	if bps <= 0 {
		ps.rate = 0
		return
	}
	ps.rate = pacingFactor * float64(bps) / 8 / float64(time.Second)
	ps.burst = max(paceBurstMin, ps.rate*float64(paceBurstTime))
}

// fill adds the tokens earned since the last fill, up to the burst allowance.
func (ps *paceState) fill(now int64) {
	if now > ps.last {
		ps.tokens = min(ps.burst, ps.tokens+ps.rate*float64(now-ps.last))
	}
	ps.last = now
}

func (ps *paceState) waiting() int { return len(ps.held) - ps.head }

// overdue reports whether the queue holds more than maxPaceDelay at the viewer's rate.
func (ps *paceState) overdue() bool {
	return ps.rate > 0 && float64(ps.bytes) > ps.rate*float64(maxPaceDelay)
}

// admit returns how many datagrams of the run q[i:j] (one address) may leave now: none
// while older ones wait, else as many as the tokens cover.
func (ps *paceState) admit(q []queued, i, j int, now int64) int {
	if ps.waiting() > 0 {
		return 0
	}
	if ps.rate == 0 {
		return j - i
	}
	ps.fill(now)
	n := 0
	for ; i+n < j && ps.tokens > 0; n++ {
		ps.tokens -= float64(q[i+n].n)
	}
	return n
}

// pacer is a batchConn's pacing: the goroutine that sends what viewers' buckets held back,
// started when the first viewer is paced.
type pacer struct {
	start sync.Once
	kick  chan struct{} // something was held: look again now
	quit  chan struct{}
	done  chan struct{}
}

// setPace paces the viewer at addr to pacingFactor times bps (its bandwidth estimate), or
// stops pacing it when bps is 0.
func (b *batchConn) setPace(addr netip.AddrPort, bps int) {
	l := &b.lanes[laneOf(addr, len(b.lanes))]
	l.mu.Lock()
	defer l.mu.Unlock()
	ps := l.pace[addr]
	if ps == nil {
		if bps <= 0 {
			return
		}
		if l.pace == nil {
			l.pace = make(map[netip.AddrPort]*paceState)
		}
		ps = &paceState{addr: addr, last: time.Now().UnixNano()}
		l.pace[addr] = ps
		ps.setRate(bps)
		ps.tokens = ps.burst
		b.pacer.start.Do(b.startPacer)
		return
	}
	ps.setRate(bps)
	switch {
	case bps <= 0 && !ps.active:
		delete(l.pace, addr)
	case bps <= 0:
		b.kickPacer() // what it holds goes now, not when the old rate would have let it
	}
}

// kickPacer wakes the pacer's goroutine for another pass.
func (b *batchConn) kickPacer() {
	select {
	case b.pacer.kick <- struct{}{}:
	default:
	}
}

// forgetPace drops the viewer at addr: what it still holds is discarded (the viewer left).
func (b *batchConn) forgetPace(addr netip.AddrPort) {
	l := &b.lanes[laneOf(addr, len(b.lanes))]
	l.mu.Lock()
	defer l.mu.Unlock()
	ps := l.pace[addr]
	if ps == nil {
		return
	}
	for _, h := range ps.held[ps.head:] {
		l.release(h)
	}
	ps.held, ps.head, ps.bytes = nil, 0, 0
	if ps.active {
		l.deactivate(ps)
	}
	delete(l.pace, addr)
}

// hold queues datagram p behind the viewer's waiting ones. It reports false when the lane
// holds maxHeldPerLane already.
func (b *batchConn) hold(l *sendLane, ps *paceState, p []byte) bool {
	var h *heldDatagram
	if n := len(l.free); n > 0 {
		h, l.free = l.free[n-1], l.free[:n-1]
	} else if l.heldN < maxHeldPerLane {
		h = new(heldDatagram) // once: released buffers are reused
	} else {
		return false
	}
	h.n = copy(h.buf[:], p)
	ps.held = append(ps.held, h)
	ps.bytes += h.n
	l.heldN++
	l.count(&l.pacedCount, 1, pacedDatagrams)
	if !ps.active {
		ps.active = true
		l.active = append(l.active, ps)
		b.kickPacer()
	}
	return true
}

// holdRun holds q[i:j] for ps; what the lane cannot hold goes out now, after everything
// the viewer already waits for, so nothing is reordered, and so does a queue grown past
// maxPaceDelay.
func (b *batchConn) holdRun(l *sendLane, ps *paceState, i, j int) {
	for ; i < j; i++ {
		if !b.hold(l, ps, l.bufs[i][:l.q[i].n]) {
			pacerOverflows.Inc()
			b.sendHeld(l, ps, false)
			b.sendQueued(l, i, j)
			return
		}
	}
	if ps.overdue() {
		pacerOverflows.Inc()
		b.sendHeld(l, ps, false)
	}
}

// sendHeld sends the viewer's waiting datagrams now, as many as its tokens allow when
// limited (the lane's sendmmsg must hold nothing: the caller has flushed).
func (b *batchConn) sendHeld(l *sendLane, ps *paceState, limited bool) {
	b.queueHeld(l, ps, limited)
	b.sendPending(l)
}

// queueHeld adds the viewer's waiting datagrams, as many as its tokens allow when limited,
// to the lane's sendmmsg in GSO runs, sending what the batch holds first when it is full.
// They leave the viewer's queue once sent (sendPending).
func (b *batchConn) queueHeld(l *sendLane, ps *paceState, limited bool) {
	gso, batchable := b.gso.Load(), b.batchable(ps.addr)
	for from := ps.head; ; {
		k := ps.heldRunEnd(from, limited)
		if k == from {
			return
		}
		if !batchable { // one datagram at a time, as sendPending would
			b.resend(l, mmsgSpan{i: from, j: k, ps: ps, addr: ps.addr})
			l.retire(ps, from, k)
			ps.compact()
			from = ps.head
			continue
		}
		if !l.mm.room(k-from, gso) {
			b.sendPending(l)
			// What it sent is retired, so ps.head is where from was, wherever
			// compacting the queue has moved it.
			k -= from - ps.head
			from = ps.head
		}
		l.addHeld(ps, from, k, gso)
		from = k
	}
}

// heldRunEnd returns the end of the run of held datagrams from i that can leave in one GSO
// message (one size, only the last shorter, at most maxSegments) and, when limited, that
// the tokens cover, which it charges: what goes at once unpaced leaves no debt to hold the
// next frame.
func (ps *paceState) heldRunEnd(i int, limited bool) int {
	k := i
	for k < len(ps.held) && k-i < maxSegments && (!limited || ps.tokens > 0) {
		h := ps.held[k]
		if h.n > ps.held[i].n || (k > i && ps.held[k-1].n < ps.held[i].n) {
			break // GSO's rule: one size, only the last may be shorter
		}
		if limited {
			ps.tokens -= float64(h.n)
		}
		k++
	}
	return k
}

// retire takes the sent (or dropped) datagrams held[i:j], the oldest waiting, off the
// viewer's queue and returns their buffers to the lane.
func (l *sendLane) retire(ps *paceState, i, j int) {
	for k := i; k < j; k++ {
		ps.bytes -= ps.held[k].n
		l.release(ps.held[k])
		ps.held[k] = nil
	}
	ps.head = j
}

// compact reuses the queue's space once it has drained, or once most of it is sent: a
// queue that never quite drains must not grow with every datagram it ever held.
func (ps *paceState) compact() {
	switch {
	case ps.waiting() == 0:
		ps.held, ps.head = ps.held[:0], 0
	case ps.head > 64 && ps.head > len(ps.held)/2:
		n := copy(ps.held, ps.held[ps.head:])
		clear(ps.held[n:])
		ps.held, ps.head = ps.held[:n], 0
	}
}

// release returns a held datagram's buffer to the lane.
func (l *sendLane) release(h *heldDatagram) {
	l.free = append(l.free, h)
	l.heldN--
}

// deactivate takes ps off the lane's list of viewers with datagrams waiting.
func (l *sendLane) deactivate(ps *paceState) {
	ps.active = false
	for i, a := range l.active {
		if a == ps {
			last := len(l.active) - 1
			l.active[i], l.active[last] = l.active[last], nil
			l.active = l.active[:last]
			return
		}
	}
}

// drainLane sends what the lane's viewers' buckets allow now and returns when the next of
// them may send again (0: nothing waits).
func (b *batchConn) drainLane(l *sendLane, now int64) (next int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ps := range l.active {
		if ps.rate > 0 {
			ps.fill(now)
		}
		b.queueHeld(l, ps, ps.rate > 0)
	}
	b.sendPending(l) // every viewer's share of this pass in one sendmmsg
	for i := 0; i < len(l.active); {
		ps := l.active[i]
		if ps.waiting() == 0 {
			l.deactivate(ps) // swaps the last one in at i
			if ps.rate == 0 {
				delete(l.pace, ps.addr)
			}
			continue
		}
		at := now + int64(-ps.tokens/ps.rate) + 1 // when the debt is paid
		if next == 0 || at < next {
			next = at
		}
		i++
	}
	return next
}

func (b *batchConn) startPacer() {
	go b.pace()
}

// pace runs the pacer until the socket closes: it sleeps until the earliest viewer may
// send again, or until something is held.
func (b *batchConn) pace() {
	defer close(b.pacer.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-b.pacer.quit:
			return
		case <-b.pacer.kick:
		case <-timer.C:
		}
		now := time.Now().UnixNano()
		next := int64(0)
		for i := range b.lanes {
			if at := b.drainLane(&b.lanes[i], now); at != 0 && (next == 0 || at < next) {
				next = at
			}
		}
		wait := time.Hour // until kicked
		if next != 0 {
			wait = max(time.Duration(next-now), minPaceWait)
		}
		timer.Reset(wait)
	}
}

// stopPacer stops the pacer's goroutine, if it was started.
func (b *batchConn) stopPacer() {
	started := true
	b.pacer.start.Do(func() { started = false })
	if !started {
		return
	}
	close(b.pacer.quit)
	<-b.pacer.done
}
