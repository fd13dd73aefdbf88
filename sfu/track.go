package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// Track is a room's stable stage track of one kind. Viewers subscribe to the Track, not to a
// publisher's Receiver, so when the host drops and republishes, the new Receiver takes the
// Track over and every viewer's DownTrack splices onto it at the next keyframe without the
// viewer renegotiating anything.
type Track struct {
	kind    webrtc.RTPCodecType
	batcher batcher  // nil in tests without sockets
	pool    *fanPool // nil: every frame is fanned out by its Receiver alone
	lanes   int      // send lanes of the media sockets: how the viewer set is split

	// layers are the sources feeding the Track, by simulcast layer; a publisher without
	// simulcast fills LayerFull only.
	layers [numLayers]atomic.Pointer[Receiver]

	mu      sync.Mutex // serialises changes to viewers; readers use the snapshot
	viewers atomic.Pointer[viewerSet]
	readers atomic.Pointer[[]MediaReader] // copy-on-write, like downTracks (see reader.go)

	demand     layerDemand  // video only: which layers viewers want (dynacast)
	attachedAt atomic.Int64 // unix nanos the current host's first layer attached
}

// batcher brackets viewers' shares of a frame on their send lane (laneOf), so their
// datagrams go out in as few sends as possible.
type batcher interface {
	beginBatch(lane int)
	endBatch(lane int)
}

// newTrack makes a Track; b and pool may be nil (tests without sockets), and lanes is the
// number of send lanes (1 without a pool).
func newTrack(kind webrtc.RTPCodecType, b batcher, pool *fanPool, lanes int) *Track {
	t := &Track{kind: kind, batcher: b, pool: pool, lanes: max(1, lanes)}
	t.demand.track = t
	t.viewers.Store(newViewerSet(nil, t.lanes))
	t.readers.Store(&[]MediaReader{})
	return t
}

// Kind is audio or video.
func (t *Track) Kind() webrtc.RTPCodecType { return t.kind }

// Receiver returns the best source feeding the Track, or nil while nobody publishes.
func (t *Track) Receiver() *Receiver { return t.pick(LayerFull, time.Now().UnixNano()) }

// LowestLayer is the lowest simulcast layer a source feeds the Track with; ok is false
// while none does.
func (t *Track) LowestLayer() (layer int, ok bool) {
	for l := range t.layers {
		if t.layers[l].Load() != nil {
			return l, true
		}
	}
	return 0, false
}

// current reports whether r is still the Track's source for its layer.
func (t *Track) current(r *Receiver) bool { return t.layers[r.layer].Load() == r }

// pick chooses the source for a viewer capped at maxLayer: the highest flowing layer at or
// below the cap; failing that, the lowest flowing layer above it (a capped viewer still
// gets a picture when only larger layers flow); failing that, any attached layer.
func (t *Track) pick(maxLayer int, now int64) *Receiver {
	var fallback *Receiver
	for l := maxLayer; l >= 0; l-- {
		if r := t.layers[l].Load(); r != nil {
			if r.flowing(now) {
				return r
			}
			fallback = r
		}
	}
	if now-t.attachedAt.Load() < int64(layerIdle) {
		// A host's layers attach one by one as their first packets arrive: give the
		// capped layer a moment before going above the cap for want of it. A host without
		// simulcast has no other layer to wait for (a viewer held on the lowest layer
		// until the rates are measured must not miss its first keyframe).
		if r := t.layers[LayerFull].Load(); r != nil && r.src.RID == "" {
			return r
		}
		return fallback
	}
	for l := maxLayer + 1; l < numLayers; l++ {
		if r := t.layers[l].Load(); r != nil {
			if r.flowing(now) {
				return r
			}
			fallback = r
		}
	}
	return fallback
}

// snapshot is the copy-on-write list of DownTracks: the fan-out reads it without a lock.
func (t *Track) snapshot() []*DownTrack { return t.viewers.Load().all }

// attach makes r the Track's source for its layer. Layers left by another (replaced)
// host session are cleared, so viewers never mix two hosts. It asks for a keyframe so
// that waiting viewers start at once.
func (t *Track) attach(r *Receiver) {
	first := true
	for l := range t.layers {
		if old := t.layers[l].Load(); old != nil && old.session != r.session {
			t.layers[l].CompareAndSwap(old, nil)
		} else if old != nil {
			first = false
		}
	}
	if first {
		t.attachedAt.Store(time.Now().UnixNano())
	}
	t.layers[r.layer].Store(r)
	if t.kind == webrtc.RTPCodecTypeVideo && pausableRID(r.src.RID) {
		t.demand.published(r.session) // dynacast: the host can be told now
	}
	if len(t.snapshot()) > 0 {
		r.RequestKeyframe()
	}
}

// detach clears r's layer if r still holds it.
func (t *Track) detach(r *Receiver) { t.layers[r.layer].CompareAndSwap(r, nil) }

func (t *Track) addDownTrack(dt *DownTrack) {
	dt.demand()
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.snapshot()
	next := make([]*DownTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, dt)
	t.viewers.Store(newViewerSet(next, t.lanes))
}

func (t *Track) removeDownTrack(dt *DownTrack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.snapshot()
	next := make([]*DownTrack, 0, len(old))
	for _, d := range old {
		if d != dt {
			next = append(next, d)
		}
	}
	t.viewers.Store(newViewerSet(next, t.lanes))
}

// setLane moves dt to send lane l (its viewer's address, see laneOf), so the parallel
// fan-out gives it to the worker whose lane it is. Any lane is correct; the right one lets
// the viewer's datagrams leave in the same sends as the rest of the worker's share.
func (t *Track) setLane(dt *DownTrack, l int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if dt.lane.Swap(int32(l)) == int32(l) {
		return
	}
	t.viewers.Store(newViewerSet(t.snapshot(), t.lanes))
}

// forwardBatch is the second hop: hand a frame's packets from r to every DownTrack, each
// viewer getting the whole batch in turn; in a room large enough, several workers do so at
// once, each for the viewers of its lanes (see fanPool). A Receiver that has been replaced
// (the old session of a host who already republished) is ignored, so two sources never
// interleave on one viewer's stream.
func (t *Track) forwardBatch(r *Receiver, batch []batchPacket) {
	if !t.current(r) {
		return
	}
	vs := t.viewers.Load()
	begin := time.Now().UnixNano()
	var sent int
	switch {
	case t.pool != nil && len(vs.all) >= t.pool.min:
		sent = t.pool.forward(t, r, batch, vs.shares)
	case vs.shares != nil:
		// Lane by lane, so that consecutive viewers share flushes (forwardShare).
		for _, share := range vs.shares {
			sent += t.forwardShare(r, batch, share)
		}
	default:
		sent = t.forwardShare(r, batch, vs.all)
	}
	r.load.add(begin, time.Now().UnixNano(), len(vs.all))
	// One shared counter update per frame, not per viewer: an atomic every core hits for
	// every viewer would cost more than the counting is worth.
	if sent > 0 {
		packetsForwarded.Add(float64(sent))
	}
	t.readBatch(r, batch)
}

// forwardShare writes batch to each viewer of share in turn, returning the packets sent.
// Consecutive viewers on one lane share a flush (one sendmmsg, batchmmsg.go) until it holds
// coalesceDatagrams: an audio packet goes to 32 viewers in one system call instead of 32,
// a 7-packet frame to five, and a keyframe to each viewer in its own. The first viewer of a
// flush waits only for the others' encryption, tens of microseconds; on the VMs we measure
// on, entering the kernel costs more than sending a datagram once in it
// (BenchmarkFanoutSocketsSliced).
func (t *Track) forwardShare(r *Receiver, batch []batchPacket, share []*DownTrack) int {
	sent := 0
	if t.batcher == nil {
		for _, dt := range share {
			sent += dt.writeBatch(r, batch)
		}
		return sent
	}
	open, pending := -1, 0
	for _, dt := range share {
		l := int(dt.lane.Load())
		if l != open || pending >= coalesceDatagrams {
			if open >= 0 {
				t.batcher.endBatch(open)
			}
			t.batcher.beginBatch(l)
			open, pending = l, 0
		}
		n := dt.writeBatch(r, batch)
		sent += n
		pending += n
	}
	if open >= 0 {
		t.batcher.endBatch(open)
	}
	return sent
}

// coalesceDatagrams is how many datagrams viewers sharing a flush may queue before it goes:
// a few dozen microseconds of the fan-out's work, well under maxQueued.
const coalesceDatagrams = 32
