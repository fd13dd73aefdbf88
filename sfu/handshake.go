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
//
// A slot is a lease, not a hold until connect_timeout: a client that offers and never
// connects would otherwise keep it for 15 s, and a handful of such offers (no token needed
// with anonymous viewing) would lock every newcomer out. The lease (Config.HandshakeLease)
// covers a real handshake, tens of ms on a LAN and about a second on a bad mobile link;
// the session itself goes on and is reaped at connect_timeout as before. And one client
// (Config passes its address as the key) holds at most perClient slots at once, so it
// cannot take them all even within a lease.
type handshakeGate struct {
	slots     chan struct{}
	wait      time.Duration
	lease     time.Duration
	perClient int

	mu      sync.Mutex
	clients map[string]int // slots held per client key; keys with none are deleted

	inFlight atomic.Int64
	peak     atomic.Int64 // the most ever in flight: what tests check the bound against
	mem      *memReturner
}

// newHandshakeGate bounds handshakes to limit, perClient of them per client key (0: a
// quarter of limit, at least 2).
func newHandshakeGate(limit, perClient int, wait, lease time.Duration) *handshakeGate {
	if perClient <= 0 {
		perClient = min(limit, max(2, limit/4))
	}
	return &handshakeGate{slots: make(chan struct{}, limit), wait: wait, lease: lease,
		perClient: perClient, clients: map[string]int{}, mem: newMemReturner()}
}

// acquire takes a slot for client ("" for none: no per-client cap), waiting at most the
// gate's wait for one, or reports ErrBusy; a client at its cap is refused at once. The
// slot is given back by its release or when its lease ends, whichever comes first.
func (g *handshakeGate) acquire(client string) (*handshakeSlot, error) {
	if !g.claim(client) {
		handshakesRefused.Inc()
		return nil, fmt.Errorf("%w: this client has %d session handshakes in progress", ErrBusy, g.perClient)
	}
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			g.unclaim(client)
			handshakesRefused.Inc()
			return nil, fmt.Errorf("%w: %d session handshakes already in progress", ErrBusy, cap(g.slots))
		}
	}
	n := g.inFlight.Add(1)
	handshakesInFlight.Inc()
	g.mem.count()
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	h := &handshakeSlot{gate: g, client: client}
	h.lease.Store(time.AfterFunc(g.lease, h.release))
	return h, nil
}

// claim counts a slot against client's cap before it waits for one, so concurrent offers
// from one client cannot all pass the check.
func (g *handshakeGate) claim(client string) bool {
	if client == "" {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.clients[client] >= g.perClient {
		return false
	}
	g.clients[client]++
	return true
}

func (g *handshakeGate) unclaim(client string) {
	if client == "" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.clients[client]--; g.clients[client] <= 0 {
		delete(g.clients, client)
	}
}

func (g *handshakeGate) release(client string) {
	g.unclaim(client)
	left := g.inFlight.Add(-1)
	handshakesInFlight.Dec()
	<-g.slots
	if left == 0 {
		g.mem.idle(time.Now())
	}
}

// handshakeSlot is one session's hold on the gate, given back once whichever of connect,
// failure, close or the end of its lease comes first.
type handshakeSlot struct {
	once   sync.Once
	gate   *handshakeGate
	client string
	lease  atomic.Pointer[time.Timer] // set after the timer starts, which may fire at once
}

func (h *handshakeSlot) release() {
	if h != nil {
		h.once.Do(func() {
			if t := h.lease.Load(); t != nil {
				t.Stop()
			}
			h.gate.release(h.client)
		})
	}
}

// HandshakeStats is what the handshake bound is doing.
type HandshakeStats struct {
	InFlight int // sessions between offer and the end of their DTLS handshake (or lease) now
	Peak     int // the most there have been at once since the SFU started
	Limit    int // Config.MaxHandshakes
}

// Handshakes reports the handshake bound's state.
func (s *SFU) Handshakes() HandshakeStats {
	g := s.handshakes
	return HandshakeStats{InFlight: int(g.inFlight.Load()), Peak: int(g.peak.Load()), Limit: cap(g.slots)}
}
