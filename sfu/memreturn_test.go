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

// TestMemoryReturnNeedsABurst (review finding 10): only burstSessions set-ups or ends within
// burstWindow make a burst. Steady traffic, however long it runs, never schedules a return;
// counted without a window it did, collecting the whole heap every returnEvery.
func TestMemoryReturnNeedsABurst(t *testing.T) {
	cases := []struct {
		name string
		n    int
		gap  time.Duration
		then int // sessions at once after the n
		want bool
	}{
		{"a burst: 64 within 10s", burstSessions, 150 * time.Millisecond, 0, true},
		{"a burst at once", 1000, 0, 0, true},
		{"fewer than a burst", burstSessions - 1, 0, 0, false},
		{"64 spread over 12.6s", burstSessions, 200 * time.Millisecond, 0, false},
		{"steady traffic: 1000 sessions, 5 a second", 1000, 200 * time.Millisecond, 0, false},
		{"steady traffic, then a burst", 1000, 200 * time.Millisecond, burstSessions, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &memReturner{free: func() { t.Error("returned memory: the test never lets it run") }, quiet: time.Hour}
			now := time.Now()
			for range c.n {
				now = now.Add(c.gap)
				m.countAt(now)
			}
			for range c.then {
				m.countAt(now)
			}
			m.idle(now)
			m.mu.Lock()
			scheduled := m.timer != nil
			m.mu.Unlock()
			m.stop()
			if scheduled != c.want {
				t.Fatalf("%d sessions %s apart: return scheduled %v, want %v", c.n, c.gap, scheduled, c.want)
			}
		})
	}
}

// TestMemoryReturnKeepsChurnDuringFree (review finding 10): sessions that come or go while
// memory is being returned count toward the next burst instead of being zeroed with it.
func TestMemoryReturnKeepsChurnDuringFree(t *testing.T) {
	calls := 0
	m := &memReturner{quiet: time.Millisecond}
	m.free = func() {
		calls++
		for range burstSessions { // a second burst while the first is returned
			m.count()
		}
	}
	for range burstSessions {
		m.count()
	}
	m.idle(time.Now())
	m.wg.Wait()
	m.mu.Lock()
	churn, burst := m.churn, m.burst
	m.mu.Unlock()
	m.stop()
	if calls != 1 || churn != burstSessions || !burst {
		t.Fatalf("%d returns; after it churn %d, burst %v; want 1 return, %d and a burst pending", calls, churn, burst, burstSessions)
	}
}
