package sfu

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// handshakeGate bounds the sessions between their offer and the end of their DTLS
// handshake (connected, failed or reaped). Each costs the node key exchanges, signatures
// and ICE checks at once; a burst of a thousand made /healthz wait almost two seconds.
// Bounded, a burst queues briefly and the excess is told to come back (ErrBusy, 503 with
// Retry-After at the HTTP edge) while the sessions already connected and the control
// plane stay responsive.
type handshakeGate struct {
	slots chan struct{}
	wait  time.Duration

	inFlight atomic.Int64
	peak     atomic.Int64 // the most ever in flight: what tests check the bound against
	mem      *memReturner
}

func newHandshakeGate(limit int, wait time.Duration) *handshakeGate {
	return &handshakeGate{slots: make(chan struct{}, limit), wait: wait, mem: newMemReturner()}
}

// acquire takes a slot, waiting at most the gate's wait for one, or reports ErrBusy.
func (g *handshakeGate) acquire() error {
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			handshakesRefused.Inc()
			return fmt.Errorf("%w: %d session handshakes already in progress", ErrBusy, cap(g.slots))
		}
	}
	n := g.inFlight.Add(1)
	handshakesInFlight.Inc()
	g.mem.count()
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	return nil
}

func (g *handshakeGate) release() {
	left := g.inFlight.Add(-1)
	handshakesInFlight.Dec()
	<-g.slots
	if left == 0 {
		g.mem.idle(time.Now())
	}
}

// handshakeSlot is one session's hold on the gate, given back once whichever of connect,
// failure or close comes first.
type handshakeSlot struct {
	once sync.Once
	gate *handshakeGate
}

func (h *handshakeSlot) release() {
	if h != nil {
		h.once.Do(h.gate.release)
	}
}

// HandshakeStats is what the handshake bound is doing.
type HandshakeStats struct {
	InFlight int // sessions between offer and the end of their DTLS handshake now
	Peak     int // the most there have been at once since the SFU started
	Limit    int // Config.MaxHandshakes
}

// Handshakes reports the handshake bound's state.
func (s *SFU) Handshakes() HandshakeStats {
	g := s.handshakes
	return HandshakeStats{InFlight: int(g.inFlight.Load()), Peak: int(g.peak.Load()), Limit: cap(g.slots)}
}
