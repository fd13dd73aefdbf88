package sfu

import (
	"errors"
	"testing"
	"time"
)

// TestHandshakeGatePerClientCap (review finding 1b): one client holds at most
// max(2, limit/4) slots; beyond that it is refused at once, not after the wait, while
// another client and a session with no client key still get slots.
func TestHandshakeGatePerClientCap(t *testing.T) {
	g := newHandshakeGate(16, 0, time.Minute, time.Hour)
	defer g.mem.stop()
	var held []*handshakeSlot
	defer func() {
		for _, h := range held {
			h.release()
		}
	}()
	for range 4 {
		h, err := g.acquire("10.0.0.1")
		if err != nil {
			t.Fatalf("slot within the client's cap: %v", err)
		}
		held = append(held, h)
	}
	start := time.Now()
	if _, err := g.acquire("10.0.0.1"); !errors.Is(err, ErrBusy) {
		t.Fatalf("fifth slot of one client with a limit of 16: %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("a client at its cap waited %s for the refusal; want it at once", waited)
	}
	for _, client := range []string{"10.0.0.2", ""} {
		h, err := g.acquire(client)
		if err != nil {
			t.Fatalf("client %q while 10.0.0.1 is at its cap: %v", client, err)
		}
		held = append(held, h)
	}
	held[0].release()
	h, err := g.acquire("10.0.0.1")
	if err != nil {
		t.Fatalf("after one of its slots was given back: %v", err)
	}
	held = append(held, h)
	if got := newHandshakeGate(3, 0, 0, time.Hour).perClient; got != 2 {
		t.Fatalf("cap with a limit of 3: %d, want at least 2", got)
	}
	if got := newHandshakeGate(16, 12, 0, time.Hour).perClient; got != 12 {
		t.Fatalf("max_handshakes_per_client 12: cap %d", got)
	}
}

// TestHandshakeGateLease (review finding 1a): a slot whose session neither connects nor
// ends is given back when its lease passes, and its client's count with it.
func TestHandshakeGateLease(t *testing.T) {
	g := newHandshakeGate(2, 0, 0, 100*time.Millisecond)
	defer g.mem.stop()
	for range 2 {
		if _, err := g.acquire("10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.acquire("10.0.0.2"); !errors.Is(err, ErrBusy) {
		t.Fatalf("every slot held: %v, want ErrBusy", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for g.inFlight.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := g.inFlight.Load(); n != 0 {
		t.Fatalf("%d slots still held long after their lease", n)
	}
	g.mu.Lock()
	left := len(g.clients)
	g.mu.Unlock()
	if left != 0 {
		t.Fatalf("client counts left after the leases: %d", left)
	}
	h, err := g.acquire("10.0.0.1")
	if err != nil {
		t.Fatalf("after the leases passed: %v", err)
	}
	h.release()
	h.release() // the lease firing later, or a second release, gives nothing back twice
	if n := g.inFlight.Load(); n != 0 {
		t.Fatalf("%d in flight after release", n)
	}
}
