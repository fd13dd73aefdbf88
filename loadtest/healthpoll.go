package loadtest

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// healthEvery is how often the control plane is probed during a burst: often enough to
// catch a stall of a tenth of a second, rarely enough to add no load of its own.
const healthEvery = 50 * time.Millisecond

// healthTimeout bounds one probe; a probe that times out counts as an error and at this
// latency.
const healthTimeout = 5 * time.Second

// Phases a health probe can fall in: its latency is recorded in that phase's histogram.
const (
	phaseIdle int32 = iota
	phaseBurst
	phaseHold
	phaseCount
)

// healthPoller probes a health URL one request after another (as a load balancer would)
// and files each latency under the phase the run is in when the probe starts.
type healthPoller struct {
	url    string
	client *http.Client
	phase  atomic.Int32
	lat    [phaseCount]samples
	errs   [phaseCount]atomic.Uint64
}

func newHealthPoller(url string) *healthPoller {
	// Its own connection: the probe must not queue behind the burst's POSTs in the client.
	return &healthPoller{url: url, client: &http.Client{Timeout: healthTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}}
}

// run probes until ctx ends.
func (h *healthPoller) run(ctx context.Context) {
	defer h.client.CloseIdleConnections()
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		if phase := h.phase.Load(); phase != phaseIdle {
			d, ok := h.probe(ctx)
			if ctx.Err() != nil {
				return
			}
			h.lat[phase].add(d)
			if !ok {
				h.errs[phase].Add(1)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// probe times one GET; ok is false for a transport error or a status other than 200.
func (h *healthPoller) probe(ctx context.Context) (time.Duration, bool) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return 0, false
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return time.Since(start), false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	return time.Since(start), resp.StatusCode == http.StatusOK
}

// HealthStats is the health URL's latency over one phase, in milliseconds.
type HealthStats struct {
	Samples uint64  `json:"samples"`
	Errors  uint64  `json:"errors"`
	P50     float64 `json:"p50_ms"`
	P99     float64 `json:"p99_ms"`
	Max     float64 `json:"max_ms"`
}

func (h *healthPoller) stats(phase int32) HealthStats {
	l := &h.lat[phase]
	return HealthStats{Samples: uint64(l.count()), Errors: h.errs[phase].Load(), P50: msf(l.quantile(0.5)), P99: msf(l.quantile(0.99)), Max: msf(l.quantile(1))}
}
