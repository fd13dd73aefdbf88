package simulcast

import "time"

// Selector tuning. Down is immediate; up needs the estimate to clear the next layer's rate
// by upHeadroom for upHold, which usually takes a probe, since a congestion controller
// only estimates about 1.5 times what it actually sends.
const (
	upHeadroom = 1.1
	upHold     = 1500 * time.Millisecond
	probeFor   = 3 * time.Second // a probe that did not lift the estimate stops after this
	probeAfter = 2 * time.Second // wait between failed probes
	numLayers  = 3
)

// LayerRates is what each simulcast layer currently carries, in bits per second; 0 means
// the layer is not flowing.
type LayerRates [numLayers]int

// Selector chooses one viewer's simulcast layer from its bandwidth estimate, with
// hysteresis: it drops at once when the current layer no longer fits, climbs only after
// sustained headroom, and asks for padding probes to find that headroom. The zero value
// starts on nothing; it is not safe for concurrent use.
type Selector struct {
	layer       int // chosen layer, -1 before the first choice
	started     bool
	upSince     time.Time
	probeStart  time.Time
	probeStop   time.Time
	probeBudget int // the estimate when the probe began
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
				s.set(l)
				return l, 0
			}
		}
		return s.current(maxLayer), 0
	}
	fit := lowest // even if it does not fit: a viewer always gets a picture
	for l := lowest; l <= top; l++ {
		if rates[l] > 0 && rates[l] <= budget {
			fit = l
		}
	}
	cur := s.current(-1)
	if !s.started || cur < lowest || cur > top || rates[cur] == 0 || fit < cur {
		// First choice, the current layer stopped or left the cap, or congestion: go at once.
		s.set(fit)
		return fit, 0
	}
	next := s.nextUp(cur, top, rates)
	if next < 0 {
		s.upSince = time.Time{}
		return cur, 0
	}
	if float64(budget) >= upHeadroom*float64(rates[next]) {
		s.probeStart = time.Time{}
		if s.upSince.IsZero() {
			s.upSince = now
		}
		if now.Sub(s.upSince) >= upHold {
			s.set(next)
			return next, 0
		}
		return cur, 0
	}
	s.upSince = time.Time{}
	if budget < rates[cur] {
		return cur, 0 // no headroom even for this layer: probing would only add congestion
	}
	// Probe with what reaches the next layer, but never more than a quarter above the
	// estimate in all: on a link that is really full, the probe must not bury the media.
	want := int(upHeadroom * float64(rates[next]-rates[cur]))
	return cur, s.probe(min(want, budget+budget/4-rates[cur]), budget, now)
}

// probe manages probe periods: on for probeFor, then off for probeAfter. A probe that makes
// the estimate fall (the link is full) stops at once.
func (s *Selector) probe(rate, budget int, now time.Time) int {
	switch {
	case rate <= 0:
		return 0
	case s.probeStart.IsZero() && now.Before(s.probeStop.Add(probeAfter)):
		return 0
	case s.probeStart.IsZero():
		s.probeStart, s.probeBudget = now, budget
	case now.Sub(s.probeStart) >= probeFor || budget < s.probeBudget*19/20:
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

func (s *Selector) set(l int) {
	s.layer, s.started = l, true
	s.upSince, s.probeStart = time.Time{}, time.Time{}
}

func (s *Selector) current(def int) int {
	if !s.started {
		return def
	}
	return s.layer
}
