package sfu

import "sync"

// Waiting for a room to open. A viewer that may not create a room (an anonymous one) may
// still wait for its host to open it; the HTTP edge holds such a request until then. It is
// told here, under the lock that creates rooms, rather than by polling Room or through
// OnEvent's queue: OnEvent has one callback (the webhooks') and drops events when full,
// and a check followed by a subscription outside the lock could miss a room opened in
// between.

// roomWaiters is the waiting for one room name: ch closes when the room opens (or the SFU
// closes); n counts the callers that have not stopped waiting, so the entry goes with the
// last of them and a name nobody waits for costs nothing.
type roomWaiters struct {
	ch chan struct{}
	n  int
}

// closedChan is what AwaitRoom returns when there is nothing to wait for.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// AwaitRoom returns a channel that is closed once room name is open (at once when it is
// open now) or the SFU has closed, and stop, which the caller must call when it no longer
// waits (whether or not the channel closed). The room may close again before the caller
// joins it: joining, not this, is what admits.
func (s *SFU) AwaitRoom(name string) (opened <-chan struct{}, stop func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.rooms[name] != nil {
		return closedChan, func() {}
	}
	w := s.waiting[name]
	if w == nil {
		w = &roomWaiters{ch: make(chan struct{})}
		s.waiting[name] = w
	}
	w.n++
	return w.ch, sync.OnceFunc(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if w.n--; w.n == 0 && s.waiting[name] == w {
			delete(s.waiting, name)
		}
	})
}

// roomOpened wakes whoever waits for room name. Called with s.mu held.
func (s *SFU) roomOpened(name string) {
	if w := s.waiting[name]; w != nil {
		close(w.ch)
		delete(s.waiting, name)
	}
}

// wakeAllWaiters ends every wait: the SFU is closing and no room will open. Called with
// s.mu held.
func (s *SFU) wakeAllWaiters() {
	for name := range s.waiting {
		s.roomOpened(name)
	}
}
