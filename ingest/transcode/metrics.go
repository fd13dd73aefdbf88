package transcode

import "github.com/prometheus/client_golang/prometheus"

// Counters are process-wide, like the SFU's: one node, scraped at /metrics.
var (
	ffmpegRestarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "transcode", Name: "ffmpeg_restarts_total",
		Help: "ffmpeg processes restarted by the supervisor, by reason (exit, stall).",
	}, []string{"reason"})
	inputDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "transcode", Name: "input_frames_dropped_total",
		Help: "Host access units dropped because ffmpeg fell behind (dropped until the next keyframe).",
	})
	packetsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "transcode", Name: "output_packets_dropped_total",
		Help: "RTP packets from the ladder dropped because the SFU did not read them in time.",
	})
	laddersRunning = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "transcode", Name: "ladders",
		Help: "Host sessions being transcoded now, by mode (ladder, passthrough).",
	}, []string{"mode"})
	replayedRestarts = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "transcode", Name: "replayed_restarts_total",
		Help: "ffmpeg processes started with the host's input since its last keyframe, so the picture resumed without waiting for the next.",
	})
	sheds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "transcode", Name: "sheds_total",
		Help: "Ladders restarted with less work because ffmpeg could not keep up with the host, by what was shed (preset, rung), or retry: a shed tried again after its ffmpeg failed before taking over (the old one went on: handovers_total{how=\"kept\"}).",
	}, []string{"action"})
	restores = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "transcode", Name: "restores_total",
		Help: "Tries at the preset a ladder had shed, after keeping up comfortably for transcode's restore_after (doubled at each try); a try whose ffmpeg fails before it takes over is also counted as handovers_total{how=\"kept\"}.",
	})
	ffmpegRunning = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "transcode", Name: "ffmpeg_processes",
		Help: "ffmpeg processes alive now.",
	})
	handovers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "transcode", Name: "handovers_total",
		Help: "Sheds and restores whose new ffmpeg took over from the old one, by how: seamless (every output of the new process came while the old one still sent), timeout (the new one was slower than " + handoverMax.String() + "), ended (the old one ended first), kept (the new one did not start or ended first, or a restore's sent nothing within " + handoverMax.String() + ", and the old one went on), failed (the old one could not go on, or the ladder closed first: it is stopped too).",
	}, []string{"how"})
)

var (
	restartsOnExit   = ffmpegRestarts.WithLabelValues("exit")
	restartsOnStall  = ffmpegRestarts.WithLabelValues("stall")
	laddersLadder    = laddersRunning.WithLabelValues("ladder")
	laddersPassthru  = laddersRunning.WithLabelValues("passthrough")
	handoverSeamless = handovers.WithLabelValues("seamless")
	handoverTimeout  = handovers.WithLabelValues("timeout")
	handoverEnded    = handovers.WithLabelValues("ended")
	handoverFailed   = handovers.WithLabelValues("failed")
	handoverKept     = handovers.WithLabelValues("kept")
	shedRetries      = sheds.WithLabelValues("retry")
)

// Collectors returns the package's metrics for registration on the process registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{ffmpegRestarts, inputDropped, packetsDropped, laddersRunning, ffmpegRunning, sheds, restores, replayedRestarts, handovers}
}
