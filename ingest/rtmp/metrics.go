package rtmp

import "github.com/prometheus/client_golang/prometheus"

// Process-wide, like the SFU's: one RTMP server per process, scraped at /metrics.
var (
	connectionsGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "rtmp", Name: "connections",
		Help: "RTMP(S) connections open now, publishing or not.",
	})
	connectionsTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "rtmp", Name: "connections_total",
		Help: "RTMP(S) connections accepted (including those refused afterwards).",
	})
	publishesTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "rtmp", Name: "publishes_total",
		Help: "RTMP publishes that reached a room's stage.",
	})
	publishingGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "rtmp", Name: "publishing",
		Help: "RTMP hosts on a stage now.",
	})
	refusalsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "rtmp", Name: "refusals_total",
		Help: "RTMP connections refused or dropped before publishing, by reason.",
	}, []string{"reason"})
)

// Collectors returns RTMP ingest's metrics for registration on the process registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{connectionsGauge, connectionsTotal, publishesTotal, publishingGauge, refusalsTotal}
}
