package transcode

import (
	"bytes"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
)

// outgoing is the stream of the process being handed over from (process.go), which goes
// on getting the host's input until its successor has taken over. A shed's old process is
// behind and has a backlog to play out meanwhile; a restore's old process kept up and has
// none, so without live input its outputs stopped ~200 ms (its successor's start) before
// the new ones came: a stop of 0.4-0.5 s in a browser. Muxing each access unit twice, into
// two MPEG-TS streams with their own tables and counters, costs microseconds for at most
// handoverMax.
type outgoing struct {
	gen            uint64
	w              *mpegts.Writer // writes into input.buf, as the current stream's does
	vTrack, aTrack *mpegts.Track
	waitKey        bool
	queue          chan chunk
	queued         *atomic.Int64
}

// handOver keeps the current stream as the outgoing one: restart with handover calls it
// under mu before it starts the successor's. An older outgoing stream (a handover cut
// short by another) is dropped: its feeder plays out what it has.
func (in *input) handOver() {
	in.prev = nil
	if in.w == nil {
		return // no process was running
	}
	in.prev = &outgoing{gen: in.gen, w: in.w, vTrack: in.vTrack, aTrack: in.aTrack, waitKey: in.waitKey, queue: in.queue, queued: in.queued}
}

// takeBack makes process old, being handed over from, the current stream again, after its
// successor (generation next) failed before it took over: old is fed the host's input as
// before, and what was queued for next is dropped. It reports false when the input has
// moved on otherwise (another restart since). Nothing to undo (true) when next's start
// failed before the input was restarted for it.
func (in *input) takeBack(old, next uint64) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.gen == old && in.prev == nil {
		return true
	}
	p := in.prev
	if in.gen != next || p == nil || p.gen != old {
		return false
	}
	q := in.queue
	in.gen, in.w, in.vTrack, in.aTrack, in.waitKey, in.queue, in.queued = p.gen, p.w, p.vTrack, p.aTrack, p.waitKey, p.queue, p.queued
	in.prev = nil
	in.current.Store(old)
	in.writing.Store(0)
	in.lag.Store(0)
	in.buf.Reset()
	in.drainQueue(q)
	return true
}

// endHandover stops feeding process gen, once it is retired (running.finish).
func (in *input) endHandover(gen uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.prev != nil && in.prev.gen == gen {
		in.prev = nil
	}
}

// toOutgoing gives the outgoing process an access unit of n bytes (key: a video keyframe,
// or audio, which needs none) through write; called with mu held and input.buf empty.
// Where its queue is full, the unit is dropped for it alone, as a full queue drops for the
// current process.
func (in *input) toOutgoing(n int, key bool, write func(p *outgoing) error) {
	p := in.prev
	if p == nil {
		return
	}
	switch {
	case len(p.queue) == cap(p.queue) || p.queued.Load()+int64(n) > in.maxBytes:
		p.waitKey = true
	case p.waitKey && !key:
	default:
		if err := write(p); err != nil {
			in.buf.Reset()
			in.prev = nil // a stream it cannot mux: the process plays out what it has
			return
		}
		p.waitKey = false
		in.enqueueTo(p.gen, p.queue, p.queued)
	}
}

// enqueueTo moves the muxed bytes into queue q of process gen, whose bytes count against
// budget. The caller holds mu and has checked there is room.
func (in *input) enqueueTo(gen uint64, q chan chunk, budget *atomic.Int64) int64 {
	b := chunkPool.Get().(*bytes.Buffer)
	b.Reset()
	b.Write(in.buf.Bytes())
	in.buf.Reset()
	budget.Add(int64(b.Len()))
	now := time.Now().UnixNano()
	q <- chunk{gen: gen, at: now, b: b, budget: budget}
	return now
}
