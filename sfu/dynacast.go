package sfu

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/simulcast"
)

// Dynacast: a host that can pause simulcast layers (the SDK's Publisher) is told which
// layers of its video some reader wants, and stops encoding the others, saving its uplink
// and CPU. What each reader of a room's video Track wants:
//
//   - a viewer: every layer up to its cap (DownTrack.wantsLocked), and the layer it still
//     receives until it has switched away;
//   - a MediaReader: the layers it reads (LL-HLS every layer; a thumbnail the lowest).
//
// A viewer wants what it would take, not what its allocator grants it now: the allocator
// only chooses among layers that arrive (a paused layer sends nothing, so its rate reads 0),
// so a layer paused because no viewer's grant reached it could never be chosen again, and
// what nobody chooses is never resumed. Counting every layer up to the cap keeps each layer
// a viewer may move to flowing; what is paused is what no viewer would take: the layers
// above every viewer's cap (players shown small or hidden), or all but the lowest when
// nobody watches, except during a new host session's warm-up (Config.DynacastWarmup), when
// it is asked for every layer. A raised cap is wanted at once (DownTrack.setCap), and while the layers
// it allows come back, allocators see them at the rate they last had (choiceRates), so the
// viewer climbs onto them as soon as they arrive.

// resumeGrace is how long a layer asked back counts at its old rate before it arrives and
// is measured: a browser resumes an encoding within a round trip and a keyframe, and its
// rate is known a rateWindow later; one that has not come by then is taken for stopped.
const resumeGrace = 2 * time.Second

// layerDemand is dynacast's signal: how many readers want each simulcast layer of a Track.
type layerDemand struct {
	track  *Track
	counts [numLayers]atomic.Int32

	resumed [numLayers]atomic.Int64 // when the host last asked each layer back, unix nanos

	mu       sync.Mutex
	reported [numLayers]bool
	paused   uint8 // the layers the host was last told nobody wants, a bit per layer
	// hosts are the listeners: one host session, or two for a moment while a new session
	// takes over; only one whose simulcast video is on the stage is told.
	hosts []*demandListener
	last  *demandListener // the one told last: paused holds what it was told
}

// demandListener is a host session that is told the demand (Room.OnLayerDemand).
type demandListener struct {
	session *Peer
	told    bool // told since its simulcast video came on the stage
	f       func(wanted [numLayers]bool)

	warmup    time.Duration // Config.DynacastWarmup
	warmUntil time.Time     // set when first told: until then it is told every layer
	warmEnd   *time.Timer   // tells it the demand when the warm-up ends
	stopped   bool          // its stop was called: the timer tells it nothing more
}

// warming reports whether h is in its warm-up at now, starting the warm-up (and the timer
// that ends it) on its first call.
func (d *layerDemand) warming(h *demandListener, now time.Time) bool {
	if h.warmup <= 0 {
		return false
	}
	if h.warmUntil.IsZero() {
		h.warmUntil = now.Add(h.warmup)
		h.warmEnd = time.AfterFunc(h.warmup, func() { d.endWarmup(h) })
	}
	return now.Before(h.warmUntil)
}

// endWarmup tells h the demand as it is, now that its warm-up is over.
func (d *layerDemand) endWarmup(h *demandListener) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !h.stopped && h.told && d.track.simulcastFrom(h.session) {
		d.reported = d.wanted()
		d.tellLocked(h)
	}
}

// change moves one reader's demand from the layers in from to those in to (a bit per
// layer). Only a layer's first reader arriving or last leaving can change what is wanted,
// so only those report. Layers are taken up before others are let go, so that a reader
// moving between layers never leaves a moment where neither is wanted.
func (d *layerDemand) change(from, to uint8) {
	edge := false
	for l := range numLayers {
		if to&^from&(1<<l) != 0 && d.counts[l].Add(1) == 1 {
			edge = true
		}
	}
	for l := range numLayers {
		if from&^to&(1<<l) != 0 && d.counts[l].Add(-1) == 0 {
			edge = true
		}
	}
	if edge {
		d.report()
	}
}

// report tells the host when the set of wanted layers differs from the last reported. It
// runs under the lock so that reports arrive in order.
func (d *layerDemand) report() {
	d.mu.Lock()
	defer d.mu.Unlock()
	wanted := d.wanted()
	if wanted == d.reported {
		return
	}
	d.reported = wanted
	dynacastChanges.Inc()
	for _, h := range d.hosts {
		if h.told && d.track.simulcastFrom(h.session) {
			d.tellLocked(h)
		}
	}
}

// tellLocked tells h what is wanted now: the rest counts as paused from here, and a paused
// layer wanted again as asked back.
func (d *layerDemand) tellLocked(h *demandListener) {
	at := time.Now()
	now := at.UnixNano()
	was := d.paused
	if d.last != h {
		was = 0 // another session's pauses: this one's encoder started with every layer
	}
	tell := d.reported
	if d.warming(h, at) {
		tell = [numLayers]bool{true, true, true}
	}
	var paused uint8
	for l, w := range tell {
		switch {
		case !w:
			paused |= 1 << l
		case was&(1<<l) != 0:
			d.resumed[l].Store(now)
		}
	}
	d.paused = paused
	d.last, h.told = h, true
	h.f(tell)
}

func (d *layerDemand) wanted() (w [numLayers]bool) {
	for l := range w {
		w[l] = d.counts[l].Load() > 0
	}
	return w
}

// published is called when a layer of session p's simulcast video attaches: a listener of
// p's that waited for it is told the demand now.
func (d *layerDemand) published(p *Peer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, h := range d.hosts {
		if !h.told && h.session == p {
			d.reported = d.wanted()
			d.tellLocked(h)
		}
	}
}

// LayerDemand reports how many readers want each simulcast layer (q, h, f) of the Track now.
func (t *Track) LayerDemand() (n [numLayers]int) {
	for l := range n {
		n[l] = int(t.demand.counts[l].Load())
	}
	return n
}

// OnLayerDemand makes f the dynacast listener of host session p: once p publishes simulcast
// video (rids q, h and f; at once if it already does) f is told which of its layers some
// reader wants, and again on every change while that video is on the stage, until stop is
// called. f runs on the goroutine that changed the demand (or on the timer that ends the
// listener's warm-up, Config.DynacastWarmup), in order, under a lock: it must be quick
// and must not call back into the SFU. The warm-up is per listener: one for each host
// channel that asks.
func (r *Room) OnLayerDemand(p *Peer, f func(wanted [numLayers]bool)) (stop func()) {
	t := r.video
	d := &t.demand
	h := &demandListener{session: p, f: f, warmup: r.sfu.cfg.DynacastWarmup}
	d.mu.Lock()
	d.hosts = append(d.hosts, h)
	if t.simulcastFrom(p) {
		d.reported = d.wanted()
		d.tellLocked(h)
	}
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.hosts = slices.DeleteFunc(d.hosts, func(x *demandListener) bool { return x == h })
		h.stopped = true
		if h.warmEnd != nil {
			h.warmEnd.Stop()
		}
		if d.last == h {
			d.last, d.paused = nil, 0 // nobody is told any more: nothing is paused
		}
	}
}

// simulcastFrom reports whether session p feeds the Track with a simulcast layer.
func (t *Track) simulcastFrom(p *Peer) bool {
	for l := range t.layers {
		if r := t.layers[l].Load(); r != nil && r.session == p && pausableRID(r.src.RID) {
			return true
		}
	}
	return false
}

// pausableRID reports whether rid names a layer the way media.layers does (q, h, f): the
// simulcast of a browser, and of the SDK's Publisher, which is what pauses layers.
func pausableRID(rid string) bool { return rid == "q" || rid == "h" || rid == "f" }

// choiceRates is what each simulcast layer of t offers a viewer's allocator at now (unix
// nanos), in bits per second, and how many layers a source feeds: a flowing layer its
// measured rate; a layer the host was asked to resume within resumeGrace and that is not
// yet arriving or not yet measured, the rate it had when it last flowed (guessed from its
// neighbours if it never did), so that a viewer climbing to a layer it just allowed
// itself (Selector.RampAgain) does not give up before the layer is back; otherwise 0.
func (t *Track) choiceRates(now int64) (rates simulcast.LayerRates, attached int) {
	var held [numLayers]bool
	for l := range t.layers {
		r := t.layers[l].Load()
		if r == nil {
			continue
		}
		attached++
		rate := int(r.rate.Load())
		switch {
		case r.flowing(now) && rate > 0:
			rates[l] = rate
		case now-t.demand.resumed[l].Load() < int64(resumeGrace):
			rates[l], held[l] = rate, true
		}
	}
	measured := rates
	for l := range rates {
		if held[l] && rates[l] == 0 {
			rates[l] = guessRate(measured, l)
		}
	}
	return rates, attached
}

// guessRate is a rate for layer l, never measured, from the nearest layer that was: each
// layer up has four times the pixels, and browsers spend about three times the bits on it
// (the SDK asks for 150, 500 and 1,500 kbit/s). 0 when no layer was measured.
func guessRate(rates simulcast.LayerRates, l int) int {
	const step = 3
	for k, f := l-1, step; k >= 0; k, f = k-1, f*step {
		if rates[k] > 0 {
			return rates[k] * f
		}
	}
	for k, f := l+1, step; k < numLayers; k, f = k+1, f*step {
		if rates[k] > 0 {
			return rates[k] / f
		}
	}
	return 0
}

// readerLayers is what a MediaReader wants of a video Track, a bit per layer: the layers it
// names, if it says (LayerReader), else every layer.
func readerLayers(rd MediaReader) uint8 {
	lr, ok := rd.(LayerReader)
	if !ok {
		return 1<<numLayers - 1
	}
	var w uint8
	for l, on := range lr.ReadsLayers() {
		if on {
			w |= 1 << l
		}
	}
	return w
}

// LayerReader is a MediaReader that reads only some simulcast layers: dynacast keeps those
// flowing while it reads and lets the host pause the rest. A thumbnail, which takes any
// keyframe, names the lowest.
type LayerReader interface {
	MediaReader
	ReadsLayers() [numLayers]bool
}

// demandReader counts rd's layers in the Track's demand (adding) or takes them out.
func (t *Track) demandReader(rd MediaReader, adding bool) {
	if t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	if adding {
		t.demand.change(0, readerLayers(rd))
	} else {
		t.demand.change(readerLayers(rd), 0)
	}
}
