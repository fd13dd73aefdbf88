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
// ended (no handshake in flight, or no session left, after at least burstSessions sessions
// were set up or ended) the heap is collected and freed pages returned at once, at most
// once per returnEvery (a later end of burst waits for its turn): one forced collection is
// cheap next to the burst that preceded it.
const (
	burstSessions = 64
	returnEvery   = 30 * time.Second
)

// memReturner decides when a burst has ended and returns memory to the OS then.
type memReturner struct {
	mu      sync.Mutex
	churn   int       // sessions set up or ended since memory was last returned
	last    time.Time // when memory was last returned
	busy    bool      // a return is running or scheduled
	timer   *time.Timer
	free    func() // debug.FreeOSMemory; tests count calls instead
	wg      sync.WaitGroup
	stopped bool
}

func newMemReturner() *memReturner { return &memReturner{free: debug.FreeOSMemory} }

// count notes a session set up or ended.
func (m *memReturner) count() {
	m.mu.Lock()
	m.churn++
	m.mu.Unlock()
}

// idle is called when the last handshake in flight ends or the last session goes. The
// collection runs on its own goroutine: it must not hold up the session that ended.
func (m *memReturner) idle(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.busy || m.stopped || m.churn < burstSessions {
		return
	}
	m.busy = true
	m.wg.Add(1)
	if wait := returnEvery - now.Sub(m.last); wait > 0 && !m.last.IsZero() {
		m.timer = time.AfterFunc(wait, m.run)
		return
	}
	go m.run()
}

func (m *memReturner) run() {
	defer m.wg.Done()
	m.free()
	m.mu.Lock()
	m.churn, m.last, m.busy, m.timer = 0, time.Now(), false, nil
	m.mu.Unlock()
}

// stop cancels a scheduled return and waits for one under way (SFU.Close).
func (m *memReturner) stop() {
	m.mu.Lock()
	m.stopped = true
	if m.timer != nil && m.timer.Stop() {
		m.busy, m.timer = false, nil
		m.wg.Done()
	}
	m.mu.Unlock()
	m.wg.Wait()
}
