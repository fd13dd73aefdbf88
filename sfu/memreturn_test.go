package sfu

import (
	"testing"
	"time"
)

// TestMemoryReturnedAfterBurst: memory is returned when a burst of set-ups has ended, not
// after a handful of sessions, and a second burst ending within returnEvery waits its turn.
func TestMemoryReturnedAfterBurst(t *testing.T) {
	calls := 0
	m := &memReturner{free: func() { calls++ }}
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
