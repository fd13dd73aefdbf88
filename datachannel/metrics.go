package datachannel

import "github.com/prometheus/client_golang/prometheus"

// Process-wide counters, as in sfu: one hub per process, scraped at /metrics.
var (
	connsGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "interaction", Name: "connections",
		Help: "Interaction connections (data channels and WebSockets) on this node.",
	})
	roomsOpen = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "interaction", Name: "rooms",
		Help: "Rooms with interaction state on this node.",
	})
	received = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "interaction", Name: "messages_received_total",
		Help: "Client messages, by the error code they got, or ok when handed to the room.",
	}, []string{"code"})
	skipped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "interaction", Name: "events_skipped_total",
		Help: "Events a slow connection skipped (counted in its chat.missed marker).",
	})
	slowClosed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "interaction", Name: "connections_closed_slow_total",
		Help: "Connections closed because not even their acks fitted in the queue.",
	})
	framesBatched = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "interaction", Name: "batched_frames_total",
		Help: "Frames written to clients that take batched frames (glint.v1.batch).",
	})
	envelopesBatched = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "interaction", Name: "batched_envelopes_total",
		Help: "Envelopes those frames carried; divided by batched_frames_total, the mean batch.",
	})
	appendSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "glint", Subsystem: "interaction", Name: "bus_append_seconds",
		Help:    "Durable appends (bids, lot opens and closes, gifts) by result: ok, conflict or error.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, 1, 5},
	}, []string{"result"})
)

// Collectors returns the interaction layer's metrics for registration.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{connsGauge, roomsOpen, received, skipped, slowClosed, framesBatched, envelopesBatched, appendSeconds}
}
