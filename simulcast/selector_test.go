package simulcast

import (
	"testing"
	"time"
)

func TestSelector(t *testing.T) {
	rates := LayerRates{150_000, 600_000, 2_500_000}
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		ms, budget, maxLayer int
		rates                LayerRates
		layer                int
		probing              bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"starts at the best fit", []step{{0, 10_000_000, 2, rates, 2, false}}},
		{"respects the cap", []step{{0, 10_000_000, 1, rates, 1, false}}},
		{"starts low on a small budget, then probes", []step{
			{0, 400_000, 2, rates, 0, false},
			{100, 400_000, 2, rates, 0, true},
		}},
		{"too small for anything: the lowest, no probe", []step{
			{0, 50_000, 2, rates, 0, false},
			{100, 50_000, 2, rates, 0, false},
		}},
		{"drops at once on congestion", []step{
			{0, 10_000_000, 2, rates, 2, false},
			{100, 1_000_000, 2, rates, 1, false},
			{200, 300_000, 2, rates, 0, false},
		}},
		{"climbs only after sustained headroom", []step{
			{0, 700_000, 2, rates, 1, false},
			{100, 3_000_000, 2, rates, 1, false},
			{1000, 3_000_000, 2, rates, 1, false},
			{1700, 3_000_000, 2, rates, 2, false},
		}},
		{"headroom interrupted restarts the wait", []step{
			{0, 700_000, 2, rates, 1, false},
			{100, 3_000_000, 2, rates, 1, false},
			{1000, 2_000_000, 2, rates, 1, true},
			{1200, 3_000_000, 2, rates, 1, false},
			{2000, 3_000_000, 2, rates, 1, false},
			{2800, 3_000_000, 2, rates, 2, false},
		}},
		{"failed probes stop soon and back off, doubling to a cap", []step{
			{0, 700_000, 2, rates, 1, false},
			{100, 700_000, 2, rates, 1, true},
			{200, 700_000, 2, rates, 1, false},
			{2100, 700_000, 2, rates, 1, false},
			{2300, 700_000, 2, rates, 1, true},
			{2400, 700_000, 2, rates, 1, false},
			{6300, 700_000, 2, rates, 1, false},
			{6500, 700_000, 2, rates, 1, true},
			{6600, 700_000, 2, rates, 1, false},
			{10500, 700_000, 2, rates, 1, false},
			{10700, 700_000, 2, rates, 1, true},
		}},
		{"no probe for a while after a drop", []step{
			{0, 10_000_000, 2, rates, 2, false},
			{100, 700_000, 2, rates, 1, false},
			{200, 700_000, 2, rates, 1, false},
			{2000, 700_000, 2, rates, 1, false},
			{2200, 700_000, 2, rates, 1, true},
		}},
		{"a stopped layer is left at once", []step{
			{0, 10_000_000, 2, rates, 2, false},
			{100, 10_000_000, 2, LayerRates{150_000, 600_000, 0}, 1, false},
		}},
		{"only a layer above the cap flows", []step{{0, 10_000_000, 0, LayerRates{0, 0, 2_500_000}, 2, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Selector
			for i, st := range c.steps {
				layer, probe := s.Choose(st.budget, st.rates, st.maxLayer, at(st.ms))
				if layer != st.layer || (probe > 0) != st.probing {
					t.Fatalf("step %d (t=%dms budget %d): layer %d probe %d, want layer %d probing %v",
						i, st.ms, st.budget, layer, probe, st.layer, st.probing)
				}
			}
		})
	}
}

func TestSelectorProbeRate(t *testing.T) {
	var s Selector
	rates := LayerRates{150_000, 600_000, 2_500_000}
	s.Choose(700_000, rates, 2, time.Unix(0, 0))
	_, probe := s.Choose(700_000, rates, 2, time.Unix(0, 1e8))
	if want := int(probeCeiling*700_000) - rates[1]; probe != want {
		t.Fatalf("probe %d, want %d (the ceiling above the estimate in all)", probe, want)
	}
	// With ample estimate, the probe is what reaches the next layer.
	var s2 Selector
	wide := LayerRates{150_000, 600_000, 1_000_000}
	s2.Choose(900_000, wide, 2, time.Unix(0, 0))
	want := int(probeGoal*float64(wide[2])) - wide[1]
	if _, probe := s2.Choose(900_000, wide, 2, time.Unix(0, 1e8)); probe != want {
		t.Fatalf("probe %d, want %d", probe, want)
	}
}

// afterProbe returns a Selector on h that probed once (at 100 ms, stopped by 300 ms) and
// was told the probe's result.
func afterProbe(t *testing.T, rates LayerRates, won bool) *Selector {
	t.Helper()
	var s Selector
	s.Choose(700_000, rates, 2, atMS(0))
	if _, p := s.Choose(700_000, rates, 2, atMS(100)); p == 0 {
		t.Fatal("no first probe")
	}
	if _, p := s.Choose(700_000, rates, 2, atMS(300)); p != 0 {
		t.Fatal("probe did not stop")
	}
	s.ProbeResult(won)
	return &s
}

func atMS(n int) time.Time { return time.Unix(0, int64(n)*int64(time.Millisecond)) }

// TestSelectorProbeWonGoesOn: a probe the caller measured as successful is followed at
// once; a failed one waits.
func TestSelectorProbeWonGoesOn(t *testing.T) {
	rates := LayerRates{150_000, 600_000, 2_500_000}
	for _, won := range []bool{true, false} {
		s := afterProbe(t, rates, won)
		if _, p := s.Choose(1_000_000, rates, 2, atMS(500)); (p > 0) != won {
			t.Fatalf("won=%v: probing %v right after", won, p > 0)
		}
	}
}

// TestSelectorClimbsAtOnceOnAMeasuredProbe: headroom a probe measured is evidence enough:
// the selector climbs on it without waiting out upHold; headroom from the estimate alone
// still waits.
func TestSelectorClimbsAtOnceOnAMeasuredProbe(t *testing.T) {
	rates := LayerRates{150_000, 600_000, 2_500_000}
	for _, won := range []bool{true, false} {
		s := afterProbe(t, rates, won)
		layer, _ := s.Choose(3_000_000, rates, 2, atMS(500))
		if want := map[bool]int{true: 2, false: 1}[won]; layer != want || s.Layer() != want {
			t.Fatalf("probe won=%v: layer %d (Layer %d) right after, want %d", won, layer, s.Layer(), want)
		}
	}
}

// TestSelectorMeasuredHeadroomIsSpentAtOnce: a won probe's headroom lets the viewer climb at
// that choice only; a choice that could not use it (the viewer capped at its layer) ends
// it, and headroom later (a raised cap, GCC's estimate) waits out upHold again.
func TestSelectorMeasuredHeadroomIsSpentAtOnce(t *testing.T) {
	rates := LayerRates{150_000, 600_000, 2_500_000}
	s := afterProbe(t, rates, true)
	if layer, _ := s.Choose(3_000_000, rates, 1, atMS(500)); layer != 1 {
		t.Fatalf("capped at h: layer %d", layer)
	}
	if layer, _ := s.Choose(3_000_000, rates, 2, atMS(700)); layer != 1 {
		t.Fatalf("cap raised: layer %d at once, want h until the headroom has held", layer)
	}
	if layer, _ := s.Choose(3_000_000, rates, 2, atMS(700+1600)); layer != 2 {
		t.Fatalf("cap raised: layer %d after the hold, want f", layer)
	}
}

// TestSelectorRampStartsLowAndClimbsOnMeasuredProbes: a viewer told to ramp starts on the
// lowest layer whatever the (guessed) budget says, probes at once toward the top layer
// with the ramp's ceiling, climbs as far as a measurement carries it, and stops ramping
// after two short probes.
func TestSelectorRampStartsLowAndClimbsOnMeasuredProbes(t *testing.T) {
	rates := LayerRates{150_000, 500_000, 1_500_000}
	var guess Selector
	guess.Ramp()
	if layer, _ := guess.Choose(1_900_000, rates, 2, atMS(0)); layer != 0 {
		t.Fatalf("first choice %d with a guessed budget of 1.9 Mbit/s, want the lowest", layer)
	}
	// The caller trusts no more than twice the lowest layer before feedback (guessCap).
	var s Selector
	s.Ramp()
	layer, probe := s.Choose(300_000, rates, 2, atMS(0))
	if layer != 0 {
		t.Fatalf("first choice %d, want the lowest", layer)
	}
	if want := int(rampCeiling*300_000) - rates[0]; probe != want {
		t.Fatalf("first probe %d, want %d (the ramp's ceiling over the budget, aimed at f)", probe, want)
	}
	s.Choose(300_000, rates, 2, atMS(100)) // the probe ends
	// The probe carried 2 Mbit/s: enough for f with headroom, so straight to f.
	s.ProbeResult(true)
	if layer, _ := s.Choose(2_000_000, rates, 2, atMS(400)); layer != 2 {
		t.Fatalf("after a probe measured 2 Mbit/s: layer %d, want f at once", layer)
	}

	// On a slow link: one short probe is tried again at once, the second ends the ramp.
	var slow Selector
	slow.Ramp()
	slow.Choose(300_000, rates, 2, atMS(0))
	slow.Choose(300_000, rates, 2, atMS(100))
	slow.ProbeResult(false)
	if _, p := slow.Choose(300_000, rates, 2, atMS(400)); p == 0 {
		t.Fatal("the first short ramp probe was not tried again at once")
	}
	slow.Choose(300_000, rates, 2, atMS(500))
	slow.ProbeResult(false)
	if _, p := slow.Choose(300_000, rates, 2, atMS(800)); p != 0 {
		t.Fatal("probing at once after the ramp's second short probe")
	}
	if _, p := slow.Choose(300_000, rates, 2, atMS(500+int(probeAfter/time.Millisecond)+100)); p <= 0 ||
		p > int(probeCeiling*300_000)-rates[0] {
		t.Fatalf("after the back-off: probe %d, want one within the normal ceiling", p)
	}

	// Without Ramp the first choice is what the budget fits, as before.
	var plain Selector
	if layer, _ := plain.Choose(1_900_000, rates, 2, atMS(0)); layer != 2 {
		t.Fatalf("without Ramp: first choice %d, want f", layer)
	}
}

// TestSelectorRampAgainOnARaisedCap: a viewer held on q by its cap, whose last probe failed
// (backed off), has its cap lifted: it probes at once toward the top with the ramp's
// ceiling, and climbs as far as the measurement carries it.
func TestSelectorRampAgainOnARaisedCap(t *testing.T) {
	rates := LayerRates{150_000, 500_000, 1_500_000}
	var s Selector
	s.Ramp()
	if layer, _ := s.Choose(300_000, rates, 0, atMS(0)); layer != 0 {
		t.Fatalf("capped at q: layer %d", layer)
	}
	if s.Ramping() {
		t.Fatal("still ramping at the top its cap allows")
	}
	if _, p := s.Choose(300_000, rates, 2, atMS(200)); p != 0 {
		// the cap went up without RampAgain: climbing waits for the usual probes
		s.Choose(300_000, rates, 2, atMS(300))
		s.ProbeResult(false)
	}
	s.RampAgain()
	if !s.Ramping() {
		t.Fatal("RampAgain did not ramp")
	}
	layer, probe := s.Choose(300_000, rates, 2, atMS(600))
	if layer != 0 || probe != int(rampCeiling*300_000)-rates[0] {
		t.Fatalf("after RampAgain: layer %d probe %d, want q and a ramp probe of %d at once", layer, probe, int(rampCeiling*300_000)-rates[0])
	}
	s.Choose(300_000, rates, 2, atMS(700))
	s.ProbeResult(true)
	if layer, _ := s.Choose(2_000_000, rates, 2, atMS(1000)); layer != 2 {
		t.Fatalf("after a probe measured 2 Mbit/s: layer %d, want f", layer)
	}
}

// TestSelectorHoldProbe: a probe the caller holds (too short yet to measure) goes on past
// ProbeDuration, a ProbeDuration per hold, and ends at probeMaxDuration however often held;
// held or not, the back-off after it is counted from its end.
func TestSelectorHoldProbe(t *testing.T) {
	rates := LayerRates{150_000, 600_000, 2_500_000}
	var s Selector
	s.HoldProbe() // no probe runs: nothing to hold
	s.Choose(700_000, rates, 2, atMS(0))
	_, first := s.Choose(700_000, rates, 2, atMS(100))
	if first == 0 {
		t.Fatal("no first probe")
	}
	for _, ms := range []int{200, 300} {
		s.HoldProbe()
		if _, p := s.Choose(700_000, rates, 2, atMS(ms)); p != first {
			t.Fatalf("held at %d ms: probe %d, want it on at %d", ms, p, first)
		}
	}
	s.HoldProbe()
	if _, p := s.Choose(700_000, rates, 2, atMS(400)); p != 0 {
		t.Fatalf("held past %v: probe %d, want it ended", probeMaxDuration, p)
	}
	s.ProbeResult(false)
	if _, p := s.Choose(700_000, rates, 2, atMS(400+int(probeAfter/time.Millisecond)-100)); p != 0 {
		t.Fatal("a failed held probe was followed before its back-off from its end")
	}

	// Not held, a probe ends after ProbeDuration as before.
	var plain Selector
	plain.Choose(700_000, rates, 2, atMS(0))
	plain.Choose(700_000, rates, 2, atMS(100))
	if _, p := plain.Choose(700_000, rates, 2, atMS(200)); p != 0 {
		t.Fatalf("unheld probe still on after %v: %d", ProbeDuration, p)
	}
}
