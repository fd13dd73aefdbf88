package datachannel

import (
	"sync"
	"time"
)

// BatchProtocol is what a client offers, as its WebSocket subprotocol or as its data
// channel's protocol, to take batched frames: every frame the server sends is then either
// one envelope or a JSON array of envelopes, in order (docs/PROTOCOL.md, Framing). A
// client that does not offer it gets one envelope per frame, as before.
const BatchProtocol = Label + ".batch"

// Batcher is implemented by a Transport whose client asked for batched frames.
type Batcher interface {
	Batched() bool
}

// maxFrameBytes bounds a batched frame. It is well under the 64 KiB an SCTP message may
// carry by default (pion's and browsers' max-message-size), so a data channel takes it
// whole; a lone envelope larger than this still goes out, on its own.
const maxFrameBytes = 16 << 10

// MaxCoalesce bounds Config.Coalesce: events waiting longer than this for company would
// cost more in latency than the writes they save.
const MaxCoalesce = 50 * time.Millisecond

// framePool holds the buffers batched frames are built in, so memory follows the
// connections writing at the moment rather than every connection in a room.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, maxFrameBytes); return &b }}

// framer builds one connection's batched frames: "[" env ("," env)* "]", or a lone
// envelope as it is. Only the connection's writer goroutine uses it.
type framer struct {
	write func([]byte) bool // the connection's: false once the transport failed
	buf   *[]byte
	n     int // envelopes in the frame being built
}

// add appends msg to the frame. When msg does not fit, it first writes the frame built
// so far and starts a new one. It reports false once a write fails.
func (f *framer) add(msg []byte) bool {
	if f.n > 0 && len(*f.buf)+len(msg)+2 > maxFrameBytes && !f.flush() {
		return false
	}
	if f.buf == nil {
		f.buf = framePool.Get().(*[]byte)
	}
	if f.n == 0 {
		*f.buf = append((*f.buf)[:0], '[')
	} else {
		*f.buf = append(*f.buf, ',')
	}
	*f.buf = append(*f.buf, msg...)
	f.n++
	return true
}

// flush writes the frame built so far, if any, and gives its buffer back to the pool.
func (f *framer) flush() bool {
	if f.n == 0 {
		return true
	}
	b := *f.buf
	if f.n == 1 {
		b = b[1:] // a lone envelope goes bare, as to a client that does not batch
	} else {
		b = append(b, ']')
		*f.buf = b
	}
	framesBatched.Inc()
	envelopesBatched.Add(float64(f.n))
	f.n = 0
	ok := f.write(b)
	if cap(*f.buf) <= 4*maxFrameBytes { // an oversized lone envelope's buffer is not kept
		framePool.Put(f.buf)
	}
	f.buf = nil
	return ok
}

// coalescer decides when a room wakes its connections' writers for events: at once when
// none were woken for Coalesce, otherwise when Coalesce has passed since the last wake,
// so a busy room writes each connection once per interval, with every event since, and
// a quiet one adds no delay. Only the room's goroutine uses it.
type coalescer struct {
	every time.Duration
	last  time.Time
	timer *time.Timer
	armed bool
}

func newCoalescer(every time.Duration) *coalescer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &coalescer{every: every, timer: t}
}

// now reports whether events queued at t should wake their writers right away. When
// not, it arms the timer for the next wake, if it is not armed yet.
func (k *coalescer) now(t time.Time) bool {
	if k.every <= 0 {
		return true
	}
	if !k.armed && t.Sub(k.last) >= k.every {
		k.last = t
		return true
	}
	if !k.armed {
		k.armed = true
		k.timer.Reset(k.last.Add(k.every).Sub(t))
	}
	return false
}

// fired records the timer's wake, at t.
func (k *coalescer) fired(t time.Time) {
	k.armed = false
	k.last = t
}

func (k *coalescer) stop() { k.timer.Stop() }
