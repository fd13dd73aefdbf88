package relay

import "github.com/prometheus/client_golang/prometheus"

var (
	relaysStarted = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "relay", Name: "started_total",
		Help: "Rooms this node started pulling from their origin node.",
	})
	relaysActive = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "relay", Name: "active",
		Help: "Rooms this node relays from their origin node now.",
	})
)

// Collectors are the relay metrics, for the server's registry.
func Collectors() []prometheus.Collector { return []prometheus.Collector{relaysStarted, relaysActive} }
