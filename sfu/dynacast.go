package sfu

import (
	"sync"
	"sync/atomic"
)

// layerDemand is dynacast's signal: how many viewers want each simulcast layer of a Track
// (the layer their allocator grants them, within their cap). A layer nobody wants can be
// paused at the publisher: an SDK publisher will be told to stop encoding it, saving its
// uplink and CPU. WHIP publishers cannot be told, so their layers keep being forwarded to
// the SFU, which drops them; nothing is lost but the host's upload.
type layerDemand struct {
	counts [numLayers]atomic.Int32

	mu       sync.Mutex
	reported [numLayers]bool
	onChange func(wanted [numLayers]bool)
}

// move shifts one viewer's demand from layer from to layer to (-1: none). Only a layer's
// first viewer arriving or last leaving can change what is wanted, so only those report.
func (d *layerDemand) move(from, to int) {
	if from == to {
		return
	}
	edge := false
	if from >= 0 && d.counts[from].Add(-1) == 0 {
		edge = true
	}
	if to >= 0 && d.counts[to].Add(1) == 1 {
		edge = true
	}
	if edge {
		d.report()
	}
}

// report calls the change callback when the set of wanted layers differs from the last
// reported. It runs under the lock so that reports arrive in order.
func (d *layerDemand) report() {
	d.mu.Lock()
	defer d.mu.Unlock()
	wanted := d.wanted()
	if wanted == d.reported {
		return
	}
	d.reported = wanted
	dynacastChanges.Inc()
	if d.onChange != nil {
		d.onChange(wanted)
	}
}

func (d *layerDemand) wanted() (w [numLayers]bool) {
	for l := range w {
		w[l] = d.counts[l].Load() > 0
	}
	return w
}

// LayerDemand reports how many viewers want each simulcast layer (q, h, f) of the Track now.
func (t *Track) LayerDemand() (n [numLayers]int) {
	for l := range n {
		n[l] = int(t.demand.counts[l].Load())
	}
	return n
}

// OnLayerDemand registers f to learn which video layers (q, h, f) some viewer wants, now and
// whenever that set changes: the dynacast signal for a publisher that can pause layers.
// f runs on the goroutine that changed the demand, in order; it must be quick and must not
// call back into the SFU.
func (r *Room) OnLayerDemand(f func(wanted [numLayers]bool)) {
	d := &r.video.demand
	d.mu.Lock()
	defer d.mu.Unlock()
	d.onChange = f
	d.reported = d.wanted()
	if f != nil {
		f(d.reported)
	}
}
