package llhls

import "github.com/prometheus/client_golang/prometheus"

var (
	streamsActive = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "streams",
		Help: "Rooms being muxed to LL-HLS now.",
	})
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "requests_total",
		Help: "LL-HLS HTTP requests by kind (multivariant, playlist, blocking, part, segment, init, other) and status code.",
	}, []string{"kind", "code"})
	packetsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "packets_dropped_total",
		Help: "RTP packets a stream's full queue dropped (the muxer could not keep up).",
	})
	framesDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "frames_dropped_total",
		Help: "Video frames not muxed (lost packets; waiting for the next keyframe).",
	})
	partsOverlong = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "parts_overlong_total",
		Help: "Parts longer than PART-TARGET (a frame interval longer than it: a stalled or very low frame rate publisher).",
	})
	segmentsOverlong = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "segments_overlong_total",
		Help: "Segments longer than TARGETDURATION (a publisher whose GOP is longer and that ignores keyframe requests).",
	})
	blockingWaits = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "blocking_wait_seconds",
		Help:    "How long blocking playlist and preload-hint requests waited.",
		Buckets: []float64{.001, .01, .05, .1, .2, .3, .5, 1, 2, 6},
	})
	muxerRestarts = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "variant_restarts_total",
		Help: "Variants restarted because the host changed resolution or codec parameters, or republished.",
	})
	transcodersActive = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "transcoders",
		Help: "ffmpeg processes turning a VP8 host's video into H.264 for LL-HLS now.",
	})
	transcodeDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "transcode_frames_dropped_total",
		Help: "VP8 frames not transcoded: ffmpeg could not keep up, or a packet was lost (until the next keyframe).",
	})
	transcodeFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "llhls", Name: "transcode_failures_total",
		Help: "ffmpeg transcoders that ended on their own (crashed, or refused their input); each is logged with its stderr.",
	})
)

// Collectors are the package's metrics, for the server's registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{streamsActive, requests, packetsDropped, framesDropped, partsOverlong, segmentsOverlong, blockingWaits, muxerRestarts,
		transcodersActive, transcodeDropped, transcodeFailures}
}
