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
	batcher batcher // nil in tests without sockets

	// layers are the sources feeding the Track, by simulcast layer; a publisher without
	// simulcast fills LayerFull only.
	layers [numLayers]atomic.Pointer[Receiver]

	mu         sync.Mutex // serialises changes to downTracks; readers use the snapshot
	downTracks atomic.Pointer[[]*DownTrack]
	readers    atomic.Pointer[[]MediaReader] // copy-on-write, like downTracks (see reader.go)

	demand     layerDemand  // video only: which layers viewers want (dynacast)
	attachedAt atomic.Int64 // unix nanos the current host's first layer attached
}

// batcher brackets a fan-out so its datagrams go out in as few sends as possible.
type batcher interface {
	beginBatch()
	endBatch()
}

func newTrack(kind webrtc.RTPCodecType, b batcher) *Track {
	t := &Track{kind: kind, batcher: b}
	t.downTracks.Store(&[]*DownTrack{})
	t.readers.Store(&[]MediaReader{})
	return t
}

// Kind is audio or video.
func (t *Track) Kind() webrtc.RTPCodecType { return t.kind }

// Receiver returns the best source feeding the Track, or nil while nobody publishes.
func (t *Track) Receiver() *Receiver { return t.pick(LayerFull, time.Now().UnixNano()) }

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
		// capped layer a moment before going above the cap for want of it.
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
func (t *Track) snapshot() []*DownTrack { return *t.downTracks.Load() }

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
	if len(t.snapshot()) > 0 {
		r.RequestKeyframe()
	}
}

// detach clears r's layer if r still holds it.
func (t *Track) detach(r *Receiver) { t.layers[r.layer].CompareAndSwap(r, nil) }

func (t *Track) addDownTrack(dt *DownTrack) {
	dt.demandLayer(dt.maxLayer)
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.snapshot()
	next := make([]*DownTrack, len(old), len(old)+1)
	copy(next, old)
	next = append(next, dt)
	t.downTracks.Store(&next)
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
	t.downTracks.Store(&next)
}

// forwardBatch is the second hop: hand a frame's packets from r to every DownTrack, each
// viewer getting the whole batch in turn. A Receiver that has been replaced (the old session
// of a host who already republished) is ignored, so two sources never interleave on one
// viewer's stream.
func (t *Track) forwardBatch(r *Receiver, batch []batchPacket) {
	if !t.current(r) {
		return
	}
	sent := 0
	for _, dt := range t.snapshot() {
		// Each viewer's share of the frame leaves in one send as soon as it is ready.
		if t.batcher != nil {
			t.batcher.beginBatch()
		}
		sent += dt.writeBatch(r, batch)
		if t.batcher != nil {
			t.batcher.endBatch()
		}
	}
	// One shared counter update per packet, not per viewer: an atomic every core hits for
	// every viewer would cost more than the counting is worth.
	if sent > 0 {
		packetsForwarded.Add(float64(sent))
	}
	t.readBatch(r, batch)
}
