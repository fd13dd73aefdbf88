package simulcast

import "time"

// Selector tuning. Down is immediate; up needs the estimate to clear the next layer's rate
// by upHeadroom for upHold, which usually takes a probe, since a congestion controller
// only estimates about 1.5 times what it actually sends; or a probe the caller measured
// showing that headroom, which is evidence enough to climb at once.
//
// A probe is short (ProbeDuration) and at most probeCeiling times the estimate in all: on
// a link that is really full it only queues for a moment (100 ms at 1.5 times queues
// 50 ms: the viewer's frames come a little late, not lost or frozen) and then stops. The
// caller measures what the link delivered during it, raises the budget it passes in when
// the link carried more, and says so with ProbeResult; the next probe then follows at once.
// Otherwise probes wait probeAfter, then probeAfterMax: a link that is full now may not be
// in a few seconds, and a viewer whose link recovered should not wait long to be found
// (libwebrtc probes an application-limited link every 5 s). None follows a drop for
// probeAfter.
const (
	upHeadroom    = 1.1
	upHold        = 1500 * time.Millisecond
	ProbeDuration = 100 * time.Millisecond // the caller asks again this long after a probe starts
	// probeMaxDuration bounds a probe the caller holds on (HoldProbe) until it has sent
	// enough to be measured.
	probeMaxDuration = 3 * ProbeDuration
	probeCeiling     = 1.5
	probeGoal        = 1.25 // times the next layer's rate: upHeadroom and the measurement's error
	probeAfter       = 2 * time.Second
	probeAfterMax    = 4 * time.Second
	numLayers        = 3
	// rampCeiling is probeCeiling while a viewer that started low ramps up (Ramp): a join
	// has no media queued to hold back, and at 2.5 times a step the top layer of a
	// browser's simulcast is two probes from the lowest.
	rampCeiling = 2.5
)

// LayerRates is what each simulcast layer currently carries, in bits per second; 0 means
// the layer is not flowing.
type LayerRates [numLayers]int

// Selector chooses one viewer's simulcast layer from its bandwidth estimate, with
// hysteresis: it drops at once when the current layer no longer fits, climbs only after
// sustained headroom, and asks for padding probes to find that headroom. The zero value
// starts on nothing; it is not safe for concurrent use.
type Selector struct {
	layer      int // chosen layer, -1 before the first choice
	started    bool
	upSince    time.Time
	probeStart time.Time
	probeStop  time.Time
	probeLen   time.Duration // how long the running probe lasts: ProbeDuration unless held
	probeWait  time.Duration // back-off after a probe that did not raise the estimate
	probeWon   bool          // the caller measured the last probe lifting the budget
	measured   bool          // and the budget's headroom since is that measurement's
	ramping    bool          // started low (Ramp), and no probe has found the link full yet
	rampMissed bool          // one ramp probe fell short already
}

// Ramp starts the viewer on the lowest layer and climbs fast: until probes show the link
// full (ProbeResult false, twice) or the viewer drops a layer, probes aim at the top layer and
// may reach rampCeiling times the budget. Call it before the first Choose, for a viewer
// whose probes the caller measures; that Choose then takes the lowest flowing layer,
// whatever the budget says, since before any feedback the budget is only a guess and a
// viewer started above its link freezes at once.
func (s *Selector) Ramp() {
	if !s.started {
		s.ramping = true
	}
}

// RampAgain climbs from the layer the viewer is on as a new viewer does (Ramp): for a
// viewer whose cap was just raised (its player made large again), which should reach the
// layers it now allows as fast as a new one would. Its first probe goes out at once, a
// back-off after an earlier drop notwithstanding: the viewer asked.
func (s *Selector) RampAgain() {
	if !s.started {
		s.ramping = true
		return
	}
	s.ramping, s.rampMissed = true, false
	s.upSince, s.probeWon, s.measured = time.Time{}, true, false
}

// HoldProbe keeps the running probe on for another ProbeDuration, to probeMaxDuration in
// all: the caller has not yet seen it send enough to be measured. Padding rides after each
// frame, so on a low layer whose encoder runs at a low frame rate (a busy host) a 100 ms
// probe can span two frames or fewer; measured on a loaded 2-core machine, half of the
// probes after a raised cap were too short to judge, and each cost the ramp a miss.
// Without a running probe it does nothing.
func (s *Selector) HoldProbe() {
	if !s.probeStart.IsZero() {
		s.probeLen = min(s.probeLen+ProbeDuration, probeMaxDuration)
	}
}

// Ramping reports whether the viewer is still ramping up (see Ramp).
func (s *Selector) Ramping() bool { return s.ramping }

// ProbeResult tells the Selector whether the probe it asked for showed the link carrying
// clearly more than the budget it had: a probe that did goes on climbing at once.
func (s *Selector) ProbeResult(won bool) {
	if !won && s.ramping && !s.rampMissed {
		// One short probe may be the measurement's noise (a busy machine delays the
		// feedback); it costs the climb a back-off of probeAfter, so a ramp tries again
		// at once, and ends on the second.
		s.rampMissed, s.probeWon, s.measured = true, true, false
		return
	}
	s.probeWon, s.measured = won, won
	s.ramping = s.ramping && won
	if won {
		s.rampMissed = false // a short probe after a long climb is the first miss again
	}
	if won {
		s.probeWait = probeAfter
	}
}

// Choose returns the layer to send (at most maxLayer when one that low flows) and the
// padding rate to add in bits per second (0: no probe). A call that changes layer never
// probes: the next call, on the new layer, decides.
func (s *Selector) Choose(budget int, rates LayerRates, maxLayer int, now time.Time) (layer int, probe int) {
	lowest, top := -1, -1 // flowing layers within the cap
	for l := 0; l <= maxLayer && l < numLayers; l++ {
		if rates[l] > 0 {
			if lowest < 0 {
				lowest = l
			}
			top = l
		}
	}
	if lowest < 0 {
		// Nothing flows within the cap: take whatever the lowest flowing layer is.
		for l := range rates {
			if rates[l] > 0 {
				s.set(l, now)
				return l, 0
			}
		}
		return s.current(maxLayer), 0
	}
	fit := lowest // even if it does not fit: a viewer always gets a picture
	for l := lowest; l <= top && !(s.ramping && !s.started); l++ {
		if rates[l] > 0 && rates[l] <= budget {
			fit = l
		}
	}
	cur := s.current(-1)
	switch {
	case !s.started && s.ramping:
		// Ramping starts where the caller already holds the viewer, the lowest layer: no
		// switch, so the first probe need not wait for the next call.
		s.set(fit, now)
		cur = fit
	case !s.started || cur < lowest || cur > top || rates[cur] == 0 || fit < cur:
		// First choice, the current layer stopped or left the cap, or congestion: go at once.
		s.set(fit, now)
		return fit, 0
	}
	next := s.nextUp(cur, top, rates)
	if next < 0 {
		s.ramping = false // at the top the viewer may reach: a cap raised later climbs as usual
		s.upSince, s.measured = time.Time{}, false
		return cur, 0
	}
	if float64(budget) >= upHeadroom*float64(rates[next]) {
		s.probeStart = time.Time{}
		if s.upSince.IsZero() {
			s.upSince = now
		}
		if s.measured {
			// A measurement is evidence for every layer it clears: climb to the highest.
			for l := top; l > next; l-- {
				if rates[l] > 0 && float64(budget) >= upHeadroom*float64(rates[l]) {
					next = l
					break
				}
			}
		}
		if now.Sub(s.upSince) >= upHold || s.measured {
			s.set(next, now)
			return next, 0
		}
		return cur, 0
	}
	s.upSince = time.Time{}
	if budget < rates[cur] {
		s.measured = false
		return cur, 0 // no headroom even for this layer: probing would only add congestion
	}
	// Probe with what reaches the next layer with headroom and a margin (a probe that only
	// just reaches it is measured short of it half the time), within the ceiling; while
	// ramping, the top layer, within the ramp's ceiling.
	goal, ceiling := next, probeCeiling
	if s.ramping {
		goal, ceiling = top, rampCeiling
	}
	want := int(probeGoal*float64(rates[goal])) - rates[cur]
	return cur, s.probe(min(want, int(ceiling*float64(budget))-rates[cur]), now)
}

// probe manages probe periods: on for ProbeDuration (longer when held: HoldProbe), then off
// for the back-off. A probe the caller reported won (ProbeResult) ends the back-off. (A
// probe is not stopped early when the estimate falls: it lasts one call, and the caller
// holds the budget while the probe's own queue drains, so the estimate it passes cannot
// show the fall in time.)
func (s *Selector) probe(rate int, now time.Time) int {
	if s.probeWait == 0 {
		s.probeWait = probeAfter
	}
	switch {
	case rate <= 0:
		return 0
	case s.probeStart.IsZero() && s.probeWon:
		s.probeWon, s.measured = false, false
		s.probeStart, s.probeLen = now, ProbeDuration
	case s.probeStart.IsZero() && now.Before(s.probeStop.Add(s.probeWait)):
		return 0
	case s.probeStart.IsZero():
		s.probeWait = min(2*s.probeWait, probeAfterMax)
		s.probeStart, s.probeLen = now, ProbeDuration
	case now.Sub(s.probeStart) >= s.probeLen:
		s.probeStart, s.probeStop = time.Time{}, now
		return 0
	}
	return rate
}

func (s *Selector) nextUp(cur, top int, rates LayerRates) int {
	for l := cur + 1; l <= top; l++ {
		if rates[l] > 0 {
			return l
		}
	}
	return -1
}

// set moves to layer l. After a drop the link has just shown congestion: no probe follows
// for probeAfter. After a climb the next probe may follow at once.
func (s *Selector) set(l int, now time.Time) {
	down := s.started && l < s.layer
	s.layer, s.started = l, true
	s.ramping = s.ramping && !down
	s.upSince, s.probeStart = time.Time{}, time.Time{}
	s.probeWait, s.probeWon, s.measured = probeAfter, !down, false
	if down {
		s.probeStop = now
	}
}

// Layer is the layer chosen last, -1 before the first choice.
func (s *Selector) Layer() int { return s.current(-1) }

func (s *Selector) current(def int) int {
	if !s.started {
		return def
	}
	return s.layer
}

// ChooseTemporal picks the highest VP8 temporal layer whose rate, with the layers below
// it, fits budget: for a viewer on the lowest spatial layer when even that does not fit
// whole. It returns 0 when nothing fits (the base layer is the least a viewer gets) and
// AllTemporal when everything does or the stream has no temporal layers (rates all 0).
func ChooseTemporal(budget int, rates [3]int) int {
	if rates == ([3]int{}) {
		return AllTemporal
	}
	best, sum := 0, 0
	for t, r := range rates {
		sum += r
		if sum > budget {
			return best
		}
		best = t
	}
	return AllTemporal
}
