package loadtest

import (
	"math"
	"slices"
	"sync"
	"time"
)

// samples keeps every duration recorded, for exact quantiles of a few thousand events
// (session set-ups, health probes) whatever their range; Histogram is for the per-packet
// figures, where keeping every value would cost memory and allocations.
type samples struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *samples) add(d time.Duration) {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
}

func (s *samples) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.d)
}

// quantile returns the q-quantile (0..1) by the nearest-rank method; 1 is the maximum.
func (s *samples) quantile(q float64) time.Duration {
	s.mu.Lock()
	sorted := slices.Clone(s.d)
	s.mu.Unlock()
	if len(sorted) == 0 {
		return 0
	}
	slices.Sort(sorted)
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return sorted[min(rank, len(sorted))-1]
}
