package datachannel

import (
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/signaling/auth"
)

// Transport is what a WebRTC data channel or a WebSocket gives the hub: a way to write
// one frame and to close. Write may block (the connection's own writer goroutine calls
// it, one frame at a time); it should give up within a bounded time on a dead peer. It
// must not keep msg after it returns: batched frames are built in reused buffers.
type Transport interface {
	Write(msg []byte) error
	Close() error
}

// MediaSession is implemented by a Transport that rides a WebRTC session (a WHIP or
// WHEP data channel): its viewer is already in Options.Audience, so presence does not
// count the connection again.
type MediaSession interface {
	Transport
	MediaSession()
}

// class says what the slow-reader policy may do with an outgoing message.
type class uint8

const (
	// classControl is never dropped: acks, errors, welcome, snapshots for this connection.
	// A connection so far behind that even these do not fit is closed.
	classControl class = iota
	// classStream may be skipped: chat, bid announcements, alerts. Skipped messages are
	// counted and the client gets one "chat.missed" marker with the count.
	classStream
	// classState is a full state (a poll tally, a lot); a dropped one marks its key stale
	// and the latest state for that key is sent once the queue has drained.
	classState
	// classJoin is the state sent on join and sync: never dropped and not counted
	// against the slow-reader limit, since a big room's state alone may exceed it.
	// It is bounded by the room's own limits (history, polls, questions, lots).
	classJoin
)

// controlSlack is how many control messages may queue beyond SendQueue before the
// connection is closed as hopelessly slow.
const controlSlack = 64

type outgoing struct {
	data  []byte
	class class
	key   string // classState: the state it describes, e.g. "lot:l1"
}

// Conn is one client connection to one room, over any transport. The transport's read
// loop calls Receive for each message; everything for the client goes through a bounded
// queue drained by the Conn's writer goroutine, so a slow client never blocks the room.
type Conn struct {
	room     *room
	t        Transport
	identity string // "" for an anonymous viewer
	name     string
	canData  bool
	admin    bool
	expires  time.Time // the token's expiry plus the verifier's leeway: after it the connection only receives
	media    bool      // rides a WebRTC session (MediaSession)
	batch    bool      // the client takes batched frames (BatchProtocol)
	log      *zap.Logger

	frame framer // owned by the writer goroutine

	mu      sync.Mutex
	queue   []outgoing
	spare   []outgoing
	missed  int
	stale   map[string]struct{}
	closed  bool
	lastErr time.Time // last rate_limited error sent, so a flood gets few answers

	wake chan struct{}
	done chan struct{}
	wg   sync.WaitGroup
}

func newConn(r *room, claims *auth.Claims, t Transport, queue int) *Conn {
	c := &Conn{room: r, t: t, wake: make(chan struct{}, 1), done: make(chan struct{}),
		stale: map[string]struct{}{}, queue: make([]outgoing, 0, queue)}
	_, c.media = t.(MediaSession)
	if b, ok := t.(Batcher); ok {
		c.batch = b.Batched()
	}
	c.frame.write = c.write
	if claims != nil {
		c.identity, c.name = claims.Identity, claims.Name
		if !claims.ExpiresAt.IsZero() {
			// The same leeway the verifier granted at join, so a token it let in can send.
			c.expires = claims.ExpiresAt.Add(r.hub.opts.TokenLeeway)
		}
		c.canData = claims.Allow(r.name, auth.PermPublishData) == nil
		c.admin = claims.Allow(r.name, auth.PermAdmin) == nil
	}
	c.log = r.log.With(zap.String("identity", c.identity))
	c.wg.Add(1)
	go c.writer()
	return c
}

// Identity is the token identity, or "" for an anonymous viewer.
func (c *Conn) Identity() string { return c.identity }

// Done is closed when the connection has closed, by either side.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Receive handles one message from the client. It decodes and checks the message and the
// sender's rate on the caller's goroutine, answers bad input with an error event, and
// hands good commands to the room, waiting if the room is busy (back-pressure on this
// one client). It returns ErrClosed once the connection is closed.
func (c *Conn) Receive(msg []byte) error { return c.receive(msg, false) }

// ReceiveBinary answers a binary message (WebSocket frame or data-channel message) with
// a bad_json error, without reading it: the protocol is JSON text. Like garbage, it
// counts against the sender's rate.
func (c *Conn) ReceiveBinary() error { return c.receive(nil, true) }

func (c *Conn) receive(msg []byte, binary bool) error {
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	now := c.room.hub.now()
	var env *Envelope
	var err error
	if binary {
		env, err = &Envelope{}, ErrBinary // only here: a text message gets its envelope from Decode
	} else {
		env, err = Decode(msg, c.room.hub.cfg.MaxMessageBytes, c.room.name, c.identity)
	}
	switch {
	case err == nil:
		err = c.permit(env.Type, now)
	case !c.room.limits.allow(c.limitKey(), now):
		// Garbage counts against the sender's rate too, so a flood of it is answered
		// with one rate_limited a second rather than an error per message.
		err = ErrRateLimited
	}
	if err != nil {
		received.WithLabelValues(codeOf(err)).Inc()
		c.sendError(env.ID, err, now)
		return nil
	}
	received.WithLabelValues("ok").Inc()
	switch env.Type {
	case TypePing:
		c.reply(TypePong, env.ID, nil)
		return nil
	case TypeMediaLayer: // about this connection's own media session, not the room
		c.setLayer(env, now)
		return nil
	}
	select {
	case c.room.inbox <- command{conn: c, env: env}:
		return nil
	case <-c.done:
		return ErrClosed
	case <-c.room.done:
		c.sendError(env.ID, ErrUnavailable, now)
		return nil
	}
}

// permit checks the grant the type needs and the sender's rate.
func (c *Conn) permit(typ string, now time.Time) error {
	if clientTypes[typ] != needNothing && !c.expires.IsZero() && now.After(c.expires) {
		return errForbidden("the access token has expired; reconnect with a fresh one to send (receiving goes on)")
	}
	switch clientTypes[typ] {
	case needData:
		if !c.canData {
			return errForbidden("this token may only receive (it lacks canPublishData)")
		}
	case needAdmin:
		if !c.admin {
			return errForbidden("this needs roomAdmin")
		}
	}
	if !c.room.limits.allow(c.limitKey(), now) {
		return ErrRateLimited
	}
	return nil
}

// limitKey is whose rate a message counts against: the identity across all its
// connections, or this connection for an anonymous viewer.
func (c *Conn) limitKey() string {
	if c.identity == "" {
		return fmt.Sprintf("anonymous %p", c)
	}
	return c.identity
}

// Close closes the connection and its transport and leaves the room. It waits for the
// writer goroutine and may be called more than once.
func (c *Conn) Close() {
	c.close()
	c.wg.Wait()
}

func (c *Conn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	// The transport is closed on its own goroutine: closing a WebSocket may wait for a
	// write in progress, and close can be called from the room's fan-out, which must not
	// wait for any one client. Added before done closes, while the writer still counts.
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		_ = c.t.Close()
	}()
	close(c.done)
	c.room.leave(c)
}

// enqueue adds a message for the client without blocking, applying the slow-reader
// policy when the queue is full, and wakes the writer.
func (c *Conn) enqueue(o outgoing) { c.push(o, true) }

// push is enqueue that wakes the writer only when asked: a room coalescing its events
// wakes every writer later, once for all of them (see coalescer).
func (c *Conn) push(o outgoing, wake bool) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	limit := c.room.hub.cfg.SendQueue
	if len(c.queue) >= limit && o.class != classJoin {
		switch o.class {
		case classStream:
			c.missed++
			c.mu.Unlock()
			skipped.Inc()
			return
		case classState:
			c.stale[o.key] = struct{}{}
			c.mu.Unlock()
			return
		}
		if len(c.queue) >= limit+controlSlack {
			c.mu.Unlock()
			c.log.Info("closing a connection too slow to take its own acks")
			slowClosed.Inc()
			c.close()
			return
		}
	}
	if o.class == classState {
		delete(c.stale, o.key) // this state supersedes whatever was dropped
	}
	c.queue = append(c.queue, o)
	// Half a queue waiting for the room's next wake is enough: even a reader that keeps
	// up would otherwise be skipped past by the slow-reader policy in a busy interval.
	wake = wake || len(c.queue) >= limit/2
	c.mu.Unlock()
	if wake {
		c.signal()
	}
}

// wakeIfPending wakes the writer if anything waits for it: queued messages, a missed
// count or stale states.
func (c *Conn) wakeIfPending() {
	c.mu.Lock()
	pending := len(c.queue) > 0 || c.missed > 0 || len(c.stale) > 0
	c.mu.Unlock()
	if pending {
		c.signal()
	}
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writer drains the queue into the transport until the connection closes.
func (c *Conn) writer() {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		for {
			batch, missed, stale := c.take()
			if len(batch) == 0 && missed == 0 && len(stale) == 0 {
				break
			}
			if missed > 0 && !c.put(c.room.encodeFor(TypeChatMissed, "", map[string]int{"count": missed})) {
				return
			}
			for i := range batch {
				if !c.put(batch[i].data) {
					return
				}
				batch[i] = outgoing{}
			}
			c.giveBack(batch)
			for _, key := range stale {
				if snap := c.room.snapshot(key); snap != nil && !c.put(snap) {
					return
				}
			}
			if !c.frame.flush() {
				return
			}
		}
	}
}

// take swaps the queue out, with the missed count and the stale keys.
func (c *Conn) take() ([]outgoing, int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	batch := c.queue
	c.queue, c.spare = c.spare[:0], nil
	missed := c.missed
	c.missed = 0
	var stale []string
	for k := range c.stale {
		stale = append(stale, k)
	}
	clear(c.stale)
	return batch, missed, stale
}

func (c *Conn) giveBack(b []outgoing) {
	c.mu.Lock()
	if c.spare == nil && cap(b) <= 2*c.room.hub.cfg.SendQueue {
		c.spare = b[:0]
	}
	c.mu.Unlock()
}

// put sends one envelope: into the frame being built for a client that batches, or as
// its own frame.
func (c *Conn) put(b []byte) bool {
	if c.batch {
		return c.frame.add(b)
	}
	return c.write(b)
}

func (c *Conn) write(b []byte) bool {
	if err := c.t.Write(b); err != nil {
		c.log.Debug("write failed; closing", zap.Error(err))
		c.close()
		return false
	}
	return true
}

// reply sends a control message to this connection only.
func (c *Conn) reply(typ, ref string, payload any) {
	c.enqueue(outgoing{data: c.room.encodeFor(typ, ref, payload), class: classControl})
}

// sendError answers a client message with an error event. Rate-limit errors are sent at
// most once a second, so a flood is not echoed back at the same rate.
func (c *Conn) sendError(ref string, err error, now time.Time) {
	code := codeOf(err)
	if code == CodeRateLimited {
		c.mu.Lock()
		if now.Sub(c.lastErr) < time.Second {
			c.mu.Unlock()
			return
		}
		c.lastErr = now
		c.mu.Unlock()
	}
	msg := err.Error()
	if code == CodeInternal {
		c.log.Error("internal error answering a client", zap.Error(err))
		msg = "internal error"
	}
	c.reply(TypeError, ref, ErrorPayload{Code: code, Message: msg, Ref: ref})
}

// ack answers a client message that had an id. Messages without an id are not acked.
func (c *Conn) ack(env *Envelope, payload any) {
	if env.ID == "" {
		return
	}
	c.reply(TypeAck, env.ID, payload)
}
