package sfu

import (
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/simulcast"
)

const (
	// allocateEvery is how often a viewer's estimate is spent again.
	allocateEvery = 200 * time.Millisecond
	// audioReserve is kept out of the estimate for audio, which always goes first.
	audioReserve = 64_000
)

// allocator spends one viewer's bandwidth estimate: audio first, then the video layer the
// Selector picks within the viewer's cap, plus padding probes when it looks for room to
// climb. It runs on the viewer session's own goroutine, never on the fan-out path.
type allocator struct {
	est    estimator
	probe  *prober      // nil: probes are padding only, not measured
	active *atomic.Bool // per-packet estimation is on; nil when there is none to switch
	video  *DownTrack
	sel    simulcast.Selector
	pace   func(bps int) // paces the viewer to its estimate (Subscriber.pace); nil in tests
	cap    int           // the viewer's cap at the last choice: a raised cap ramps again

	// A measured probe: while one runs, and the video rate the link was seen to carry
	// (floor: the probe measures the video stream, padding included, which is all that
	// carries transport-wide sequence numbers), trusted above GCC's estimate until the link
	// shows congestion or GCC catches up.
	probing bool
	judgeAt time.Time // when the last probe's feedback is in
	graceTo time.Time // congestion until then is the probe's own
	floor   int
	held    int // the budget when the probe began: the probe's own congestion keeps it
}

// estimator is a viewer's bandwidth estimate: GCC on transport-wide feedback, or the
// viewer's own REMB.
type estimator interface {
	GetTargetBitrate() int
	GetStats() map[string]any
}

// probeFeedbackWait is how long after a probe its feedback is judged: viewers report
// transport-wide feedback every 50-100 ms, plus the round trip. probeGrace is how long
// after that the queue a probe built may still make GCC see congestion: it is the probe's
// doing, drains by itself, and must not cost the viewer its layer.
const (
	probeFeedbackWait = 300 * time.Millisecond
	probeGrace        = time.Second
)

// run allocates every allocateEvery, and every ProbeDuration while a probe runs, so a probe
// lasts no longer than asked: a longer one queues the viewer's media behind its padding.
// A raised cap is allocated at once, so the climb to it starts at once.
func (a *allocator) run(done <-chan struct{}) {
	next := time.NewTimer(allocateEvery)
	defer next.Stop()
	for {
		var now time.Time
		select {
		case <-done:
			return
		case now = <-next.C:
		case <-a.video.capRaised:
			now = time.Now()
		}
		a.allocate(now)
		switch {
		case a.probing:
			next.Reset(simulcast.ProbeDuration)
		case a.judgeAt.After(now):
			// Judge the probe as soon as its feedback is in, not at the next tick: a
			// viewer ramping up after joining waits for every judgement.
			next.Reset(max(a.judgeAt.Sub(now), time.Millisecond))
		default:
			next.Reset(allocateEvery)
		}
	}
}

func (a *allocator) allocate(now time.Time) {
	t := a.video.track
	// Layers a host was just asked to resume (dynacast) count at their last rate until they
	// are back and measured.
	rates, layers := t.choiceRates(now.UnixNano())
	temporal := false // a single layer with VP8 temporal layers still leaves a choice
	if layers == 1 {
		for l := range t.layers {
			if r := t.layers[l].Load(); r != nil {
				temporal = r.TemporalRates(now.UnixNano()) != [numTemporal]int{}
			}
		}
	}
	// Estimate only while there is a choice to make: it is the costliest per-packet work.
	if a.active != nil {
		a.active.Store(layers > 1 || temporal)
	}
	if a.probe != nil && a.sel.Layer() < 0 {
		// The first choice, before any feedback: start on the lowest layer and ramp up on
		// measured probes (Selector.Ramp) rather than trust a guess and freeze.
		a.sel.Ramp()
		if rates == (simulcast.LayerRates{}) || (layers < 2 && !temporal) {
			// No host yet, or one that has only just started (no layer's rate measured):
			// hold the viewer on the lowest layer attached until the selector can choose.
			a.dropProbe()
			if layers > 1 { // a simulcast host not yet measured: the estimate already runs
				a.setPace(a.est.GetTargetBitrate())
			} else {
				a.setPace(0)
			}
			a.video.allocate(lowestLayer(t), simulcast.AllTemporal, 0, 0, now)
			return
		}
	}
	if layers < 2 && !temporal {
		a.dropProbe()
		a.setPace(0)
		a.video.allocate(LayerFull, simulcast.AllTemporal, 0, 0, now)
		return
	}
	if c := a.video.layerCap(); c != a.cap {
		if c > a.cap && a.probe != nil {
			// A player made large again climbs to what it now allows as fast as a new
			// viewer would; dynacast resumes those layers meanwhile (choiceRates).
			a.sel.RampAgain()
		}
		a.cap = c
	}
	raw := a.est.GetTargetBitrate()
	viewerEstimateBps.Observe(float64(raw))
	est := a.guessCap(raw-audioReserve, rates) // what GCC leaves for video
	a.updateFloor(est, now)
	trusted := max(est, a.floor)
	budget := trusted
	if a.ownQueue(now) {
		// GCC reads the queue a probe built as congestion and cuts its estimate; the media
		// that fitted before the probe still fits once that queue drains (a real fall
		// shows as congestion again after the grace).
		budget = max(budget, a.held)
	}
	if a.probing && a.probe != nil && a.probe.short() {
		a.sel.HoldProbe() // a probe too short to measure would count as a miss
	}
	layer, probe := a.sel.Choose(budget, rates, a.video.layerCap(), now)
	if probe > 0 && !a.probing {
		a.held = trusted // not budget: a hold must not outlive itself across chained probes
	}
	a.runProbe(probe > 0, est, now)
	a.video.allocate(layer, a.temporal(layer, budget, rates, now), probe, budget, now)
	// Paced to the estimate itself, not to the budget guessCap trims it to (at most twice
	// the current layer): measured on loopback, pacing to the budget held a keyframe back
	// 13 ms at the median, where the link had room for it in 2. A probe above it is paced
	// to the probe.
	a.setPace(max(raw, budget+probe+audioReserve))
}

// setPace hands the viewer's estimate to its pacer (0: unpaced, for want of an estimate).
func (a *allocator) setPace(bps int) {
	if a.pace != nil {
		a.pace(bps)
	}
}

// lowestLayer is the lowest layer a source feeds t with (LayerLow when none does).
func lowestLayer(t *Track) int {
	l, _ := t.LowestLayer()
	return l
}

// dropProbe ends a probe, and forgets one awaiting its judgement, when there is no longer a
// layer to choose (the host left, or came back without simulcast): its measurement would
// say nothing about the next host, and a judgement left pending would keep the allocator
// waking for it.
func (a *allocator) dropProbe() {
	if a.probing && a.probe != nil {
		a.probe.stop()
	}
	a.probing, a.judgeAt = false, time.Time{}
}

// temporal is the VP8 temporal layer cap: all layers unless the chosen spatial layer is the
// lowest flowing one and does not fit the budget whole.
func (a *allocator) temporal(layer, budget int, rates simulcast.LayerRates, now time.Time) int {
	for l := range layer {
		if rates[l] > 0 {
			return simulcast.AllTemporal // a lower spatial layer flows: that is the way down
		}
	}
	if budget >= rates[layer] {
		return simulcast.AllTemporal
	}
	r := a.video.track.layers[layer].Load()
	if r == nil {
		return simulcast.AllTemporal
	}
	return simulcast.ChooseTemporal(budget, r.TemporalRates(now.UnixNano()))
}

// runProbe follows the selector's probes: probing is what the allocator's timer and the
// budget hold go by, for every viewer; a prober (TWCC viewers) also measures each probe.
// A probe that starts while the last one awaits its feedback judges that one first: one
// prober measures one probe at a time.
func (a *allocator) runProbe(on bool, est int, now time.Time) {
	if on == a.probing {
		return
	}
	a.probing = on
	p := a.probe
	switch {
	case p == nil:
	case on:
		if !a.judgeAt.IsZero() {
			a.judge(est, now)
		}
		p.start()
	default:
		p.stop()
		a.judgeAt = now.Add(probeFeedbackWait)
	}
}

// updateFloor judges a finished probe and drops the floor when it no longer holds: the
// link is congested (GCC sees delay building) or GCC's own estimate has caught up. est is
// GCC's estimate for video, as far as it is believed (guessCap).
func (a *allocator) updateFloor(est int, now time.Time) {
	if a.floor > 0 && (est >= a.floor || (!a.ownQueue(now) && congested(a.est))) {
		a.floor = 0
	}
	if !a.judgeAt.IsZero() && !now.Before(a.judgeAt) {
		a.judge(est, now)
	}
}

// guessCap bounds GCC's estimate to estTrust times the layer being sent. GCC's estimate
// grows while nothing shows congestion, to 1.5 times what the viewer received, and that
// includes the padding of the last probe: left alone it drifts above a link that only ever
// carried the lower layer, the viewer climbs onto a layer its link cannot carry, freezes
// and falls back. Beyond what is sent, only a measured probe (the floor) may lift the
// budget; below it, the estimate rules, so congestion still drops the viewer at once. A
// viewer without measured probes (REMB: its own estimate, which its probes' padding
// lifts) is not capped, or it could never climb, and starts where its estimate says.
func (a *allocator) guessCap(est int, rates simulcast.LayerRates) int {
	if a.probe == nil {
		return est
	}
	cur := a.sel.Layer()
	if cur < 0 {
		// The first choice, which starts on the lowest layer (Selector.Ramp): the budget
		// its first probe is sized on is what that layer would be granted.
		for l := range rates {
			if rates[l] > 0 {
				cur = l
				break
			}
		}
	}
	if cur >= 0 && rates[cur] > 0 {
		return min(est, rates[cur]*estTrust)
	}
	return est
}

// estTrust is how far above the layer being sent GCC's estimate is believed without a probe.
const estTrust = 2

// ownQueue reports whether congestion now may be the last probe's own doing: it runs, its
// feedback is awaited, or its queue may still be draining.
func (a *allocator) ownQueue(now time.Time) bool {
	return a.probing || !a.judgeAt.IsZero() || now.Before(a.graceTo)
}

// judge takes the last probe's measurement: the floor rises to what the link carried, and
// the selector learns whether that was clearly more than it had.
func (a *allocator) judge(est int, now time.Time) {
	a.judgeAt, a.graceTo = time.Time{}, now.Add(probeGrace)
	delivered, sent := a.probe.result()
	carried, won := probeVerdict(delivered, sent, max(est, a.floor))
	a.floor = max(a.floor, carried)
	a.sel.ProbeResult(won)
	if won {
		probesSucceeded.Inc()
	} else {
		probesFailed.Inc()
	}
}

// probeVerdict judges a probe sent at sent bits per second of which the link delivered
// delivered, when the viewer's budget was had. carried is the rate the link showed it can
// take (0 when it showed nothing above had): no more than was sent (a short burst can
// arrive faster), and when it fell behind a little less than it managed, since the probe's
// own queue was still draining into it. won means probing on at once may find more: the
// link kept up with the probe and carried clearly more than had. A link that fell behind
// is full at what it carried, so probing it again at once only queues the viewer's media
// behind padding (a stall each time) while the next layer stays out of reach.
func probeVerdict(delivered, sent, had int) (carried int, won bool) {
	carried = min(delivered, sent)
	full := delivered < sent*9/10
	if full {
		carried = delivered * 9 / 10
	}
	if carried <= had {
		return 0, false
	}
	return carried, !full && carried > had+had/10
}

// congested reports whether GCC's delay detector sees the link's queue growing.
func congested(est estimator) bool {
	st := est.GetStats()
	return st["usage"] == "overuse" || st["state"] == "decrease"
}

// newAllocator makes the allocator for a viewer: on GCC when it negotiated transport-wide
// feedback, else on the REMB messages it sends (older players and some native clients);
// nil for a viewer with neither (it stays on its cap) or without video. A viewer whose
// probes are measured is held on the lowest layer from here, before it connects, so it
// does not start above its link.
func (s *Subscriber) newAllocator(bwe *viewerBWE) *allocator {
	s.mu.Lock()
	defer s.mu.Unlock()
	var video *DownTrack
	for _, dt := range s.downTracks {
		if dt.Kind() == webrtc.RTPCodecTypeVideo {
			video = dt
		}
	}
	var a *allocator
	switch {
	case video == nil:
		return nil
	case bwe != nil && bwe.est != nil && negotiatedTWCC(s.videoSender):
		a = &allocator{est: bwe.est, probe: bwe.probe, active: &bwe.active, video: video, pace: s.pace}
		video.allocate(lowestLayer(video.track), simulcast.AllTemporal, 0, 0, time.Now())
	case negotiatedREMB(s.videoSender):
		a = &allocator{est: rembEstimate{video}, video: video, pace: s.pace}
	default:
		return nil
	}
	a.cap = video.layerCap()
	video.allocated.Store(true)
	return a
}

// start makes the allocator's first choice, before any media flows, and runs it for the
// viewer's session.
func (a *allocator) start(s *Subscriber) {
	a.allocate(time.Now())
	s.Go(func() { a.run(s.Stopping()) })
}

// rembEstimate is the estimate a viewer reports in REMB messages; until its first one, the
// same starting estimate GCC has.
type rembEstimate struct{ d *DownTrack }

func (r rembEstimate) GetTargetBitrate() int {
	if bps := r.d.remb.Load(); bps > 0 {
		return int(bps)
	}
	return initialEstimate
}

// GetStats has nothing to add: REMB is the viewer's verdict, congestion included.
func (rembEstimate) GetStats() map[string]any { return nil }

// negotiatedREMB reports whether the viewer agreed to send receiver-estimated maximum bitrate.
func negotiatedREMB(sender *webrtc.RTPSender) bool {
	if sender == nil {
		return false
	}
	for _, c := range sender.GetParameters().Codecs {
		for _, fb := range c.RTCPFeedback {
			if fb.Type == webrtc.TypeRTCPFBGoogREMB {
				return true
			}
		}
	}
	return false
}

// negotiatedTWCC reports whether the viewer agreed to transport-wide congestion feedback.
func negotiatedTWCC(sender *webrtc.RTPSender) bool {
	if sender == nil {
		return false
	}
	for _, e := range sender.GetParameters().HeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			return true
		}
	}
	return false
}
