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
	// ClientProcs is how many processes held the viewers (agents; 1: this one).
	ClientProcs int          `json:"client_procs"`
	Started     time.Time    `json:"started"`
	Steps       []StepResult `json:"steps"`
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
	// Latency is to a frame's arrival at the viewer's socket (the kernel's stamp), the
	// server's part; ReadP99 is to when the viewer's read loop had it, which adds the
	// client's own queue. Far apart, the client is what the viewers wait on.
	ReadP99 float64 `json:"latency_read_p99_ms"`
	// PublishP99 is the publisher's own time from stamping a frame to writing its last
	// packet: the client's share of every latency above.
	PublishP99 float64 `json:"publish_p99_ms"`
	Frames     uint64  `json:"frames"`
	// Unstamped frames were timed at the read loop: a packet of theirs had no kernel
	// timestamp (a socket that refused SO_TIMESTAMPNS, a retransmission over RTX).
	Unstamped   uint64  `json:"frames_unstamped"`
	LossPercent float64 `json:"loss_percent"`
	LostPackets uint64  `json:"lost_packets"`
	Freezes     uint64  `json:"freezes"`
	Mbps        float64 `json:"delivered_mbps"`
	Packets     uint64  `json:"delivered_packets"`
	// ClientCPU is the load generator's CPU, all its processes together, in % of one core.
	ClientCPU float64 `json:"client_cpu_percent"`
	// ClientLimited: some process of the generator was above 90 % of the CPUs it may use,
	// so the figures describe the client as much as the server.
	ClientLimited bool `json:"client_limited"`
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
	viewers, failed                 int
	frames, freezes, packets, bytes uint64
	unstamped                       uint64
	received, expected              uint64
	reading                                         // self: this process and the agents together
	ownCPU                          time.Duration   // this process's CPU time alone
	agentCPU                        []time.Duration // each agent's CPU time so far
	agentProcs                      []int           // and the cores it may use
}

// localCounters sums the viewers held by this process.
func (r *run) localCounters() counters {
	c := counters{at: time.Now()}
	r.mu.Lock()
	defer r.mu.Unlock()
	c.viewers, c.failed = len(r.viewers), r.failed
	for _, v := range r.viewers {
		c.frames += v.frames.Load()
		c.unstamped += v.unstamped.Load()
		c.freezes += v.freezes.Load()
		c.packets += v.packets.Load()
		c.bytes += v.bytes.Load()
		c.received += v.received.Load()
		c.expected += v.expected.Load()
	}
	return c
}

// snapshot reads every viewer's totals, here and in the agents, and /proc. With agents it
// also replaces the latency and join histograms with the sum of theirs.
func (r *run) snapshot() (counters, error) {
	c := r.localCounters()
	if len(r.agents) > 0 {
		snaps := make([]agentSnap, len(r.agents))
		if err := eachAgent(r.agents, func(i int, a *agentProc) error { return a.call(agentRequest{Op: "snap"}, &snaps[i]) }); err != nil {
			return c, err
		}
		if err := r.mergeAgents(&c, snaps); err != nil {
			return c, err
		}
	}
	c.reading = readNow(r.cfg.ServerPID)
	c.at, c.ownCPU = time.Now(), c.self.cpu
	for _, cpu := range c.agentCPU {
		c.self.cpu += cpu
	}
	return c, nil
}

// mergeAgents adds the agents' counters to c and sets the histograms to the sum of theirs.
func (r *run) mergeAgents(c *counters, snaps []agentSnap) error {
	r.latency.reset()
	r.joins.Reset()
	for _, s := range snaps {
		c.viewers += s.Viewers
		c.failed += s.Failed
		c.frames += s.Frames
		c.unstamped += s.Unstamped
		c.freezes += s.Freezes
		c.packets += s.Packets
		c.bytes += s.Bytes
		c.received += s.Received
		c.expected += s.Expected
		c.agentCPU = append(c.agentCPU, time.Duration(s.CPU))
		c.agentProcs = append(c.agentProcs, s.Procs)
		for _, m := range []struct {
			h *Histogram
			w histoWire
		}{{r.latency.all, s.All}, {r.latency.key, s.Key}, {r.latency.delta, s.Delta}, {r.latency.read, s.Read}, {r.joins, s.Joins}} {
			if err := m.h.add(m.w); err != nil {
				return err
			}
		}
	}
	return nil
}

// limited reports whether some process of the generator was CPU-bound between a and b.
func limited(a, b counters) bool {
	wall := b.at.Sub(a.at)
	if wall <= 0 {
		return false
	}
	pct := func(from, to time.Duration) float64 { return 100 * float64(to-from) / float64(wall) }
	if clientLimited(pct(a.ownCPU, b.ownCPU)) {
		return true
	}
	for i := range min(len(a.agentCPU), len(b.agentCPU)) {
		if pct(a.agentCPU[i], b.agentCPU[i]) > clientLimitedPercent*float64(max(1, b.agentProcs[i])) {
			return true
		}
	}
	return false
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
		Unstamped:  b.unstamped - a.unstamped,
		Freezes:    b.freezes - a.freezes,
		Packets:    b.packets - a.packets,
		Mbps:       float64(b.bytes-a.bytes) * 8 / 1e6 / secs,
		ClientCPU:  cpuPercent(a.self, b.self),
	}
	s.LatencyDeltaP99 = msf(r.latency.delta.Quantile(0.99))
	s.LatencyKeyP50, s.LatencyKeyP99 = msf(r.latency.key.Quantile(0.5)), msf(r.latency.key.Quantile(0.99))
	s.ReadP99 = msf(r.latency.read.Quantile(0.99))
	if r.pub != nil {
		s.PublishP99 = msf(r.pub.sending.Quantile(0.99))
	}
	s.Failed = b.failed
	if exp, got := b.expected-a.expected, b.received-a.received; exp > got {
		s.LostPackets = exp - got
		s.LossPercent = 100 * float64(s.LostPackets) / float64(exp)
	}
	s.ClientLimited = limited(a, b)
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
	fmt.Fprintln(tw, "viewers\tok\tjoin p50\tjoin p95\tlat p50\tlat p95\tlat p99\tlat max\tdelta p99\tkey p50\tkey p99\tread p99\tpub p99\tloss %\tfreezes\tMbit/s\tsrv CPU %\tsrv µs/pkt\tsrv RSS MiB\tKiB/viewer\tcli µs/pkt\tcli CPU %\t")
	for _, s := range rep.Steps {
		limited := ""
		if s.ClientLimited {
			limited = " (client-limited)"
		}
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.3f\t%d\t%.1f\t%.1f\t%.2f\t%.1f\t%.0f\t%.2f\t%.0f%s\t\n",
			s.Viewers, s.Connected, s.JoinP50, s.JoinP95, s.LatencyP50, s.LatencyP95, s.LatencyP99, s.LatencyMax, s.LatencyDeltaP99, s.LatencyKeyP50, s.LatencyKeyP99, s.ReadP99, s.PublishP99,
			s.LossPercent, s.Freezes, s.Mbps, s.ServerCPU, s.ServerCPUPerPacket, s.ServerRSSMiB, s.ServerRSSPerViewer,
			s.ClientCPUPerPacket, s.ClientCPU, limited)
	}
	return tw.Flush()
}
