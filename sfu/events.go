package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// Room events, for the platform's webhooks: a room opened or closed, a host's track went
// on or off the stage. They are raised where the state changes (often under a lock) and
// handed to the OnEvent callback, in order, by one goroutine of the SFU's, so the callback
// may block briefly without slowing any session; beyond eventQueue waiting events they
// are dropped (counted) rather than hold a room up.

// EventKind says what happened.
type EventKind int

const (
	EventRoomStarted EventKind = iota + 1
	EventRoomFinished
	EventTrackPublished
	EventTrackUnpublished
)

// Event is one room event.
type Event struct {
	Kind EventKind
	Room string
	At   time.Time
	// TrackKind is the track's kind and Session numbers the host session that published
	// it (track events only): a host that reconnects publishes its tracks again in a new
	// session, whose tracks are not the old one's.
	TrackKind webrtc.RTPCodecType
	Session   uint64
}

// eventQueue bounds the events waiting for the callback.
const eventQueue = 4096

// events is the SFU's queue of room events and the goroutine that hands them out.
type events struct {
	hook  atomic.Pointer[func(Event)]
	queue chan Event
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// OnEvent sets the callback for room events (nil: none). Events raised before it was set
// are not replayed.
func (s *SFU) OnEvent(f func(Event)) {
	if f == nil {
		s.events.hook.Store(nil)
		return
	}
	s.events.hook.Store(&f)
	s.events.once.Do(func() {
		s.events.wg.Add(1)
		go s.events.run()
	})
}

// emit queues a room event for the callback; it never blocks.
func (s *SFU) emit(kind EventKind, room string, track webrtc.RTPCodecType) {
	s.emitTrack(kind, room, track, 0)
}

// emitTrack is emit for a track of host session session.
func (s *SFU) emitTrack(kind EventKind, room string, track webrtc.RTPCodecType, session uint64) {
	if s.events.hook.Load() == nil {
		return
	}
	select {
	case s.events.queue <- Event{Kind: kind, Room: room, At: time.Now(), TrackKind: track, Session: session}:
	default:
		eventsDropped.Inc()
	}
}

func (e *events) run() {
	defer e.wg.Done()
	for {
		select {
		case ev := <-e.queue:
			if f := e.hook.Load(); f != nil {
				(*f)(ev)
			}
		case <-e.quit:
			return
		}
	}
}

// stop ends the goroutine; events still queued are dropped (the SFU is closing).
func (e *events) stop() {
	e.once.Do(func() {}) // never start after this
	close(e.quit)
	e.wg.Wait()
}
