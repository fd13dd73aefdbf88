package loadtest

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// BurstReport is the result of a burst run. Times are in milliseconds.
type BurstReport struct {
	Target      string        `json:"target"`
	Health      string        `json:"health_url"`
	Sessions    int           `json:"sessions"`
	Concurrency int           `json:"concurrency"`
	Hold        time.Duration `json:"hold_ns"`
	Started     time.Time     `json:"started"`
	// BurstMS runs from the first session's start to the last one connected.
	BurstMS    float64 `json:"burst_ms"`
	Connected  int     `json:"connected"`
	Failed     int     `json:"failed"`
	Refused503 uint64  `json:"refused_503"`
	Refused429 uint64  `json:"refused_429"`
	// Set-up time runs from a session's first offer to ICE+DTLS connected, retries included.
	SetupP50   float64 `json:"setup_p50_ms"`
	SetupP99   float64 `json:"setup_p99_ms"`
	SetupMax   float64 `json:"setup_max_ms"`
	FirstError string  `json:"first_error,omitempty"`
	// HealthBurst covers the burst (until every session connected or failed), HealthHold
	// the hold that follows.
	HealthBurst HealthStats `json:"health_burst"`
	HealthHold  HealthStats `json:"health_hold"`
	// ClientCPUBurst is this process's CPU during the burst (100 = one core): near the
	// client's cores, the client was a limit too.
	ClientCPUBurst float64      `json:"client_cpu_burst_percent"`
	Server         *ServerBurst `json:"server,omitempty"`
}

// ServerBurst is the server's CPU and memory over the run, read from /proc (--server-pid).
type ServerBurst struct {
	CPUBurst float64 `json:"cpu_burst_percent"`
	CPUHold  float64 `json:"cpu_hold_percent"`
	// RSS before the burst, the most sampled (every 100 ms) until the close ended, and
	// right after the close.
	RSSBeforeMiB     float64 `json:"rss_before_mib"`
	RSSPeakMiB       float64 `json:"rss_peak_mib"`
	RSSAfterCloseMiB float64 `json:"rss_after_close_mib"`
	// Later are the readings at BurstConfig.RSSAfterClose.
	Later []RSSReading `json:"rss_later,omitempty"`
}

// RSSReading is the server's resident memory some time after the close.
type RSSReading struct {
	AfterS float64 `json:"after_close_s"`
	MiB    float64 `json:"rss_mib"`
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// report fills the figures known once the sessions are closed.
func (b *burst) report(start time.Time, before, afterBurst, afterHold reading, w *serverWatch) {
	r := b.rep
	r.Connected, r.Failed = int(b.connected.Load()), int(b.failed.Load())
	r.Refused503, r.Refused429 = b.refused503.Load(), b.refused429.Load()
	if last := b.lastConnected.Load(); last != 0 {
		r.BurstMS = msf(time.Unix(0, last).Sub(start))
	}
	r.SetupP50, r.SetupP99, r.SetupMax = msf(b.setup.quantile(0.5)), msf(b.setup.quantile(0.99)), msf(b.setup.quantile(1))
	r.HealthBurst, r.HealthHold = b.health.stats(phaseBurst), b.health.stats(phaseHold)
	r.ClientCPUBurst = cpuPercent(before.self, afterBurst.self)
	if w == nil || !before.hasServer {
		return
	}
	r.Server = &ServerBurst{RSSBeforeMiB: mib(before.server.rss), RSSPeakMiB: mib(w.peak())}
	if afterBurst.hasServer {
		r.Server.CPUBurst = cpuPercent(before.server, afterBurst.server)
		if afterHold.hasServer {
			r.Server.CPUHold = cpuPercent(afterBurst.server, afterHold.server)
		}
	}
	if s, err := readProc(strconv.Itoa(b.cfg.ServerPID)); err == nil {
		r.Server.RSSAfterCloseMiB = mib(s.rss)
	}
}

// readAfterClose reads the server's memory at each RSSAfterClose (until ctx ends).
func (b *burst) readAfterClose(ctx context.Context, closed time.Time) {
	if b.rep.Server == nil {
		return
	}
	for _, d := range b.cfg.RSSAfterClose {
		b.say("reading the server's memory %s after the close\n", d)
		t := time.NewTimer(time.Until(closed.Add(d)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s, err := readProc(strconv.Itoa(b.cfg.ServerPID))
		if err != nil {
			return
		}
		b.rep.Server.Later = append(b.rep.Server.Later, RSSReading{AfterS: d.Seconds(), MiB: mib(s.rss)})
	}
}

// WriteTable prints the report as two small tables: sessions, and the health URL.
func (r *BurstReport) WriteTable(out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "sessions\tconnected\tfailed\t503s\t429s\tburst ms\tsetup p50\tsetup p99\tsetup max\tcli CPU %\t")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t\n", r.Sessions, r.Connected, r.Failed, r.Refused503, r.Refused429,
		r.BurstMS, r.SetupP50, r.SetupP99, r.SetupMax, r.ClientCPUBurst)
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "health\tprobes\terrors\tp50 ms\tp99 ms\tmax ms\t")
	for _, h := range []struct {
		name string
		s    HealthStats
	}{{"burst", r.HealthBurst}, {"hold", r.HealthHold}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t\n", h.name, h.s.Samples, h.s.Errors, h.s.P50, h.s.P99, h.s.Max)
	}
	if s := r.Server; s != nil {
		fmt.Fprintln(tw)
		head, row := "srv CPU % burst\thold\tRSS MiB before\tpeak\tafter close\t", fmt.Sprintf("%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t", s.CPUBurst, s.CPUHold, s.RSSBeforeMiB, s.RSSPeakMiB, s.RSSAfterCloseMiB)
		for _, l := range s.Later {
			head += fmt.Sprintf("+%gs\t", l.AfterS)
			row += fmt.Sprintf("%.0f\t", l.MiB)
		}
		fmt.Fprintln(tw, head)
		fmt.Fprintln(tw, row)
	}
	if r.FirstError != "" {
		fmt.Fprintf(tw, "first failure: %s\n", r.FirstError)
	}
	return tw.Flush()
}
