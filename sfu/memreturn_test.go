package sfu

import (
	"testing"
	"time"
)

// TestMemoryReturnedAfterBurst: memory is returned when a burst of set-ups has ended, not
// after a handful of sessions, and a second burst ending within returnEvery waits its turn.
func TestMemoryReturnedAfterBurst(t *testing.T) {
	calls := 0
	m := &memReturner{free: func() { calls++ }, quiet: time.Millisecond}
	burst := func(n int) {
		for range n {
			m.count()
		}
		m.idle(time.Now())
	}
	burst(burstSessions - 1)
	m.wg.Wait()
	if calls != 0 {
		t.Fatalf("returned memory after %d sessions, fewer than a burst", burstSessions-1)
	}
	burst(1)
	m.wg.Wait()
	if calls != 1 {
		t.Fatalf("a burst of %d ended: %d returns, want 1", burstSessions, calls)
	}
	burst(burstSessions)
	m.mu.Lock()
	scheduled := m.timer != nil
	m.mu.Unlock()
	if !scheduled {
		t.Fatal("a burst ending within returnEvery of the last return was not scheduled")
	}
	m.stop()
	if calls != 1 {
		t.Fatalf("returned again within %s: %d returns", returnEvery, calls)
	}
}

// TestMemoryReturnWaitsForQuiet: a return is due only once no session has come or gone for
// the quiet period, and no sooner than returnEvery after the last one; collecting in the
// middle of a burst stalls everything that allocates.
func TestMemoryReturnWaitsForQuiet(t *testing.T) {
	now := time.Unix(1000, 0)
	m := &memReturner{quiet: burstQuiet}
	m.lastChurn = now.Add(-time.Second)
	if got := m.waitLocked(now); got != burstQuiet-time.Second {
		t.Fatalf("a session 1s ago: wait %v, want %v", got, burstQuiet-time.Second)
	}
	m.lastChurn = now.Add(-time.Minute)
	if got := m.waitLocked(now); got != 0 {
		t.Fatalf("quiet for a minute, never returned: wait %v, want 0", got)
	}
	m.last = now.Add(-10 * time.Second)
	if got := m.waitLocked(now); got != returnEvery-10*time.Second {
		t.Fatalf("returned 10s ago: wait %v, want %v", got, returnEvery-10*time.Second)
	}
}
