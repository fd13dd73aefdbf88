package loadtest

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Report is the result of a fanout run.
type Report struct {
	Target     string        `json:"target"`
	Clip       ClipSpec      `json:"clip"`
	Duration   time.Duration `json:"step_duration_ns"`
	ClientCPUs int           `json:"client_cpus"`
	Started    time.Time     `json:"started"`
	Steps      []StepResult  `json:"steps"`
}

// StepResult is one ramp step. Latencies and join times are in milliseconds.
type StepResult struct {
	Viewers    int     `json:"viewers"`
	Connected  int     `json:"connected"`
	Failed     int     `json:"failed"`
	JoinP50    float64 `json:"join_p50_ms"`
	JoinP95    float64 `json:"join_p95_ms"`
	LatencyP50 float64 `json:"latency_p50_ms"`
	LatencyP95 float64 `json:"latency_p95_ms"`
	LatencyP99 float64 `json:"latency_p99_ms"`
	LatencyMax float64 `json:"latency_max_ms"`
	// Keyframes are several times larger than other frames: the fan-out of their packets
	// to every viewer sets the tail, so the two kinds are also reported apart.
	LatencyDeltaP99 float64 `json:"latency_delta_frames_p99_ms"`
	LatencyKeyP50   float64 `json:"latency_keyframes_p50_ms"`
	LatencyKeyP99   float64 `json:"latency_keyframes_p99_ms"`
	Frames          uint64  `json:"frames"`
	LossPercent     float64 `json:"loss_percent"`
	LostPackets     uint64  `json:"lost_packets"`
	Freezes         uint64  `json:"freezes"`
	Mbps            float64 `json:"delivered_mbps"`
	Packets         uint64  `json:"delivered_packets"`
	ClientCPU       float64 `json:"client_cpu_percent"`
	ClientLimited   bool    `json:"client_limited"`
	// ClientCPUPerPacket is the generator's own cost per packet received: when it is larger
	// than the server's, frame latency at many viewers measures the client's queue too.
	ClientCPUPerPacket float64 `json:"client_cpu_us_per_packet"`
	// Server figures, present with --server-pid.
	ServerCPU          float64 `json:"server_cpu_percent,omitempty"`
	ServerRSSMiB       float64 `json:"server_rss_mib,omitempty"`
	ServerPeakRSSMiB   float64 `json:"server_peak_rss_mib,omitempty"`
	ServerRSSPerViewer float64 `json:"server_rss_per_viewer_kib,omitempty"`
	ServerCPUPerPacket float64 `json:"server_cpu_us_per_packet,omitempty"`
}

// counters is a reading of every viewer's totals and of /proc.
type counters struct {
	at                              time.Time
	viewers                         int
	frames, freezes, packets, bytes uint64
	received, expected              uint64
	reading
}

func (r *run) snapshot() counters {
	c := counters{at: time.Now()}
	r.mu.Lock()
	c.viewers = len(r.viewers)
	for _, v := range r.viewers {
		c.frames += v.frames.Load()
		c.freezes += v.freezes.Load()
		c.packets += v.packets.Load()
		c.bytes += v.bytes.Load()
		c.received += v.received.Load()
		c.expected += v.expected.Load()
	}
	r.mu.Unlock()
	c.reading = readNow(r.cfg.ServerPID)
	return c
}

func (r *run) result(n int, a, b counters) StepResult {
	secs := b.at.Sub(a.at).Seconds()
	s := StepResult{
		Viewers:    n,
		Connected:  b.viewers,
		JoinP50:    msf(r.joins.Quantile(0.5)),
		JoinP95:    msf(r.joins.Quantile(0.95)),
		LatencyP50: msf(r.latency.all.Quantile(0.5)),
		LatencyP95: msf(r.latency.all.Quantile(0.95)),
		LatencyP99: msf(r.latency.all.Quantile(0.99)),
		LatencyMax: msf(r.latency.all.Max()),
		Frames:     b.frames - a.frames,
		Freezes:    b.freezes - a.freezes,
		Packets:    b.packets - a.packets,
		Mbps:       float64(b.bytes-a.bytes) * 8 / 1e6 / secs,
		ClientCPU:  cpuPercent(a.self, b.self),
	}
	s.LatencyDeltaP99 = msf(r.latency.delta.Quantile(0.99))
	s.LatencyKeyP50, s.LatencyKeyP99 = msf(r.latency.key.Quantile(0.5)), msf(r.latency.key.Quantile(0.99))
	r.mu.Lock()
	s.Failed = r.failed
	r.mu.Unlock()
	if exp, got := b.expected-a.expected, b.received-a.received; exp > got {
		s.LostPackets = exp - got
		s.LossPercent = 100 * float64(s.LostPackets) / float64(exp)
	}
	s.ClientLimited = clientLimited(s.ClientCPU)
	if s.Packets > 0 {
		s.ClientCPUPerPacket = float64((b.self.cpu - a.self.cpu).Microseconds()) / float64(s.Packets)
	}
	if b.hasServer && a.hasServer {
		s.ServerCPU = cpuPercent(a.server, b.server)
		s.ServerRSSMiB = float64(b.server.rss) / (1 << 20)
		s.ServerPeakRSSMiB = float64(b.server.peakKB) / 1024
		if b.viewers > 0 {
			s.ServerRSSPerViewer = float64(b.server.rss-r.baseRSS) / 1024 / float64(b.viewers)
		}
		if s.Packets > 0 {
			s.ServerCPUPerPacket = float64((b.server.cpu - a.server.cpu).Microseconds()) / float64(s.Packets)
		}
	}
	return s
}

func msf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteTable prints the report as an aligned table.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "viewers\tok\tjoin p50\tjoin p95\tlat p50\tlat p95\tlat p99\tlat max\tdelta p99\tkey p50\tkey p99\tloss %\tfreezes\tMbit/s\tsrv CPU %\tsrv µs/pkt\tsrv RSS MiB\tKiB/viewer\tcli µs/pkt\tcli CPU %\t")
	for _, s := range rep.Steps {
		limited := ""
		if s.ClientLimited {
			limited = " (client-limited)"
		}
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f\t%.2f\t%.2f\t%.3f\t%d\t%.1f\t%.1f\t%.2f\t%.1f\t%.0f\t%.2f\t%.0f%s\t\n",
			s.Viewers, s.Connected, s.JoinP50, s.JoinP95, s.LatencyP50, s.LatencyP95, s.LatencyP99, s.LatencyMax, s.LatencyDeltaP99, s.LatencyKeyP50, s.LatencyKeyP99,
			s.LossPercent, s.Freezes, s.Mbps, s.ServerCPU, s.ServerCPUPerPacket, s.ServerRSSMiB, s.ServerRSSPerViewer,
			s.ClientCPUPerPacket, s.ClientCPU, limited)
	}
	return tw.Flush()
}
