package loadtest

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"
)

// stallRule is how the report counts a stall, said in the report itself.
var stallRule = fmt.Sprintf("a stall is a gap of more than %d x PART-TARGET between two new video parts a viewer downloaded "+
	"(or from its last part to the end); stall time is the sum of those gaps", stallParts)

// HLSReport is the result of an LL-HLS run. Latencies are in milliseconds.
type HLSReport struct {
	// Target is the multivariant playlist (without the token); Variant and Audio the media
	// playlists the viewers followed.
	Target  string    `json:"target"`
	Variant string    `json:"variant"`
	Audio   string    `json:"audio,omitempty"`
	Started time.Time `json:"started"`
	Viewers int       `json:"viewers"`
	// Connected viewers loaded the playlists and init sections; Failed could not.
	Connected  int     `json:"connected"`
	Failed     int     `json:"failed"`
	FirstError string  `json:"first_error,omitempty"`
	JoinS      float64 `json:"join_s"`     // until every viewer had joined or failed
	Seconds    float64 `json:"measured_s"` // the measured window, after the joins
	// PartTargetMS is the playlist's EXT-X-PART-INF PART-TARGET.
	PartTargetMS float64 `json:"part_target_ms"`
	// Parts are new video parts downloaded at the live edge; Frames the frames in them
	// that carried the publisher's timing SEI (Latency.Count).
	Parts  uint64 `json:"parts"`
	Frames uint64 `json:"frames_timed"`
	// Latency is, for every timed frame, the time its part's download completed minus the
	// frame's send time; PartLatency is the same for the first (oldest) frame of each part.
	Latency     LatencyMS `json:"frame_latency_ms"`
	PartLatency LatencyMS `json:"part_first_frame_latency_ms"`
	StallRule   string    `json:"stall_rule"`
	Stalls      uint64    `json:"stalls"`
	StallS      float64   `json:"stall_s"`
	StallMaxMS  float64   `json:"stall_max_ms"`
	// Errors are failed requests over the whole run, joins included, by kind and status
	// ("playlist 404", "part 503", "part timeout", ...).
	Errors map[string]uint64 `json:"http_errors"`
	// Requests and bytes count every response (playlists, init sections, parts, audio);
	// bytes as they came over the wire, playlists gzipped.
	Requests           uint64  `json:"requests"`
	RequestsPerS       float64 `json:"requests_per_s"`
	Bytes              uint64  `json:"bytes"`
	Mbps               float64 `json:"mbps"`
	BytesPerViewerPerS float64 `json:"bytes_per_viewer_per_s"`
	// ClientCPU is this process's CPU (100 = one core); ClientLimited says it was near all
	// of the client's CPUs, so the figures describe the client as much as the server.
	ClientCPU     float64    `json:"client_cpu_percent"`
	ClientLimited bool       `json:"client_limited"`
	Server        *HLSServer `json:"server,omitempty"`
}

// LatencyMS is a latency distribution in milliseconds.
type LatencyMS struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

func latencyOf(h *Histogram) LatencyMS {
	return LatencyMS{Count: h.Count(), P50: msf(h.Quantile(0.5)), P95: msf(h.Quantile(0.95)), P99: msf(h.Quantile(0.99)), Max: msf(h.Max())}
}

// HLSServer is the server's CPU and memory over the measured window (--server-pid).
type HLSServer struct {
	CPU          float64 `json:"cpu_percent"`
	CPUPerViewer float64 `json:"cpu_percent_per_viewer"`
	RSSMiB       float64 `json:"rss_mib"`
	// PeakRSSMiB is the most sampled every 100 ms over the run; RSSPerViewerKiB the growth
	// from before the viewers joined, per viewer.
	PeakRSSMiB      float64 `json:"peak_rss_mib"`
	RSSPerViewerKiB float64 `json:"rss_per_viewer_kib"`
}

// hlsCounters is a reading of the run's counters and of /proc.
type hlsCounters struct {
	at                             time.Time
	parts, requests, bytes, stalls uint64
	stallNanos                     int64
	reading
}

func (h *hlsRun) snapshot() hlsCounters {
	st := h.c.st
	c := hlsCounters{at: time.Now(), parts: st.parts.Load(), requests: st.requests.Load(), bytes: st.bytes.Load()}
	c.stallCounters(st)
	c.reading = readNow(h.cfg.ServerPID)
	return c
}

// stallCounters takes the stall counters again: after the viewers stop, they have counted
// the stalls still under way at the end.
func (c *hlsCounters) stallCounters(st *hlsStats) {
	c.stalls, c.stallNanos = st.stalls.Load(), st.stallNanos.Load()
}

// fill completes the report from the readings at the start (a) and end (b) of the window.
func (h *hlsRun) fill(rep *HLSReport, a, b hlsCounters, base reading, watch *serverWatch) {
	st := h.c.st
	rep.Connected, rep.Failed, rep.FirstError = int(h.connected.Load()), int(h.failed.Load()), h.firstError
	rep.Variant, rep.Audio, rep.PartTargetMS = h.variant, h.audio, msf(h.partTarget)
	rep.Errors = st.errorCounts()
	if a.at.IsZero() {
		return // nobody joined: nothing was measured
	}
	secs := b.at.Sub(a.at).Seconds()
	rep.Seconds = secs
	rep.Parts, rep.Frames = b.parts-a.parts, rep.Latency.Count
	rep.Stalls, rep.StallS = b.stalls-a.stalls, time.Duration(b.stallNanos-a.stallNanos).Seconds()
	rep.StallMaxMS = msf(time.Duration(st.stallMax.Load()))
	rep.Requests, rep.Bytes = b.requests-a.requests, b.bytes-a.bytes
	rep.RequestsPerS = float64(rep.Requests) / secs
	rep.Mbps = float64(rep.Bytes) * 8 / 1e6 / secs
	rep.BytesPerViewerPerS = float64(rep.Bytes) / float64(rep.Connected) / secs
	rep.ClientCPU = cpuPercent(a.self, b.self)
	rep.ClientLimited = clientLimited(rep.ClientCPU)
	if a.hasServer && b.hasServer {
		s := &HLSServer{CPU: cpuPercent(a.server, b.server), RSSMiB: mib(b.server.rss), PeakRSSMiB: mib(watch.peak())}
		s.CPUPerViewer = s.CPU / float64(rep.Connected)
		if base.hasServer {
			s.RSSPerViewerKiB = float64(b.server.rss-base.server.rss) / 1024 / float64(rep.Connected)
		}
		rep.Server = s
	}
}

// WriteTable prints the report as an aligned table, then the stall rule, the errors and
// what the viewers followed.
func (rep *HLSReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "viewers\tok\tpart ms\tlat p50\tlat p95\tlat p99\tlat max\tpart p50\tpart p95\tpart p99\tpart max\tstalls\tstall s\terrors\treq/s\tMbit/s\tKiB/s/viewer\tsrv CPU %\t%/viewer\tsrv RSS MiB\tKiB/viewer\tcli CPU %\t")
	var errs uint64
	for _, n := range rep.Errors {
		errs += n
	}
	srv := "-\t-\t-\t-\t"
	if s := rep.Server; s != nil {
		srv = fmt.Sprintf("%.1f\t%.3f\t%.1f\t%.0f\t", s.CPU, s.CPUPerViewer, s.RSSMiB, s.RSSPerViewerKiB)
	}
	limited := ""
	if rep.ClientLimited {
		limited = " (client-limited)"
	}
	l, p := rep.Latency, rep.PartLatency
	fmt.Fprintf(tw, "%d\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%.2f\t%d\t%.0f\t%.2f\t%.1f\t%s%.0f%s\t\n",
		rep.Viewers, rep.Connected, rep.PartTargetMS, l.P50, l.P95, l.P99, l.Max, p.P50, p.P95, p.P99, p.Max,
		rep.Stalls, rep.StallS, errs, rep.RequestsPerS, rep.Mbps, rep.BytesPerViewerPerS/1024, srv, rep.ClientCPU, limited)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "latency: part download completed - frame sent, over %d timed frames in %d parts; \"part\" columns: the first frame of each part\n", rep.Frames, rep.Parts)
	fmt.Fprintf(w, "stalls: %s (longest %.0f ms)\n", rep.StallRule, rep.StallMaxMS)
	if len(rep.Errors) > 0 {
		keys := make([]string, 0, len(rep.Errors))
		for k := range rep.Errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		fmt.Fprint(w, "errors:")
		for _, k := range keys {
			fmt.Fprintf(w, " %s: %d;", k, rep.Errors[k])
		}
		fmt.Fprintln(w)
	}
	switch {
	case rep.Variant == "":
		fmt.Fprintf(w, "no viewer joined in %.1f s\n", rep.JoinS)
	case rep.Audio != "":
		fmt.Fprintf(w, "followed %s and %s for %.1f s after %.1f s of joins\n", rep.Variant, rep.Audio, rep.Seconds, rep.JoinS)
	default:
		fmt.Fprintf(w, "followed %s for %.1f s after %.1f s of joins\n", rep.Variant, rep.Seconds, rep.JoinS)
	}
	if rep.FirstError != "" {
		fmt.Fprintf(w, "first failure: %s\n", rep.FirstError)
	}
	return nil
}
