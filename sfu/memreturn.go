package sfu

import (
	"runtime/debug"
	"sync"
	"time"
)

// Returning memory after a burst of sessions. Setting up a session allocates far more
// than keeping it (pion's ICE agent, DTLS flights, SRTP contexts, interceptor state); after
// a thousand sessions came and went the process held hundreds of MiB with a few tens live,
// as the runtime's background scavenger gives pages back only slowly. So once a burst has
// ended (at least burstSessions sessions set up or ended within burstWindow, then none for
// burstQuiet) the heap is collected and freed pages returned, at most once per returnEvery.
//
// The window matters too: counted without one, a server with steady traffic reaches
// burstSessions every so often and would collect the whole heap every returnEvery whenever
// there is a lull of burstQuiet, for memory the scavenger returns well enough by itself.
//
// The quiet period matters: debug.FreeOSMemory collects and then scavenges the whole heap
// while holding the heap lock, so run in the middle of a burst it stalls every goroutine
// that allocates, the HTTP side included (measured: /healthz waits of seconds when it ran
// each time the handshakes in flight touched zero).
const (
	burstSessions = 64
	burstWindow   = 10 * time.Second
	burstQuiet    = 3 * time.Second
	returnEvery   = 30 * time.Second
)

// memReturner decides when a burst has ended and returns memory to the OS then.
type memReturner struct {
	mu        sync.Mutex
	churn     int                      // sessions set up or ended since memory was last returned
	recent    [burstSessions]time.Time // when the newest burstSessions of them were, a ring
	next      int                      // the ring's oldest entry, where the next one goes
	burst     bool                     // burstSessions of them fell within burstWindow
	lastChurn time.Time                // the newest of them
	last      time.Time                // when memory was last returned
	busy      bool                     // a return is scheduled or running
	timer     *time.Timer
	quiet     time.Duration // burstQuiet; tests shorten it
	free      func()        // debug.FreeOSMemory; tests count calls instead
	wg        sync.WaitGroup
	stopped   bool
}

func newMemReturner() *memReturner {
	return &memReturner{free: debug.FreeOSMemory, quiet: burstQuiet}
}

// count notes a session set up or ended.
func (m *memReturner) count() { m.countAt(time.Now()) }

func (m *memReturner) countAt(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.churn++
	m.lastChurn = now
	m.recent[m.next] = now
	m.next = (m.next + 1) % burstSessions
	m.burst = m.burst || m.burstLocked()
}

// burstLocked reports whether the newest burstSessions sessions, all counted since the last
// return, fell within burstWindow. The entry at next is the oldest of the ring.
func (m *memReturner) burstLocked() bool {
	return m.churn >= burstSessions && m.lastChurn.Sub(m.recent[m.next]) <= burstWindow
}

// idle is called when the last handshake in flight ends or the last session goes: a
// burst may have ended. The return is scheduled for when the node has been quiet for the
// quiet period (and returnEvery has passed since the last one); it runs on a timer, never
// on the session that ended.
func (m *memReturner) idle(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy || m.stopped || !m.burst {
		return
	}
	m.busy = true
	m.wg.Add(1)
	m.timer = time.AfterFunc(m.waitLocked(now), m.run)
}

// waitLocked is how long from now until both the quiet period and returnEvery are over.
func (m *memReturner) waitLocked(now time.Time) time.Duration {
	wait := m.lastChurn.Add(m.quiet).Sub(now)
	if !m.last.IsZero() {
		wait = max(wait, m.last.Add(returnEvery).Sub(now))
	}
	return max(wait, 0)
}

// run returns memory, or waits on if sessions came or went since it was scheduled.
func (m *memReturner) run() {
	m.mu.Lock()
	if m.stopped { // stop could not cancel this run: it waits for it to end
		m.busy, m.timer = false, nil
		m.mu.Unlock()
		m.wg.Done()
		return
	}
	if wait := m.waitLocked(time.Now()); wait > 0 {
		m.timer = time.AfterFunc(wait, m.run)
		m.mu.Unlock()
		return
	}
	m.timer = nil
	counted := m.churn
	m.mu.Unlock()

	m.free()

	// Sessions that came or went while free ran are not part of the burst just returned:
	// they count toward the next one.
	m.mu.Lock()
	m.churn -= counted
	m.burst = m.burstLocked()
	m.last, m.busy = time.Now(), false
	m.mu.Unlock()
	m.wg.Done()
}

// stop cancels a scheduled return and waits for one under way (SFU.Close).
func (m *memReturner) stop() {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		m.wg.Wait()
		return
	}
	m.stopped = true
	if m.timer != nil && m.timer.Stop() {
		m.busy, m.timer = false, nil
		m.wg.Done()
	}
	m.mu.Unlock()
	m.wg.Wait()
}
