package sfu

import "github.com/prometheus/client_golang/prometheus"

// Counters are process-wide: one SFU per process, scraped at /metrics. Per-room detail lives
// in the room API rather than in label cardinality.
var (
	viewersRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "viewers_refused_total",
		Help: "Viewers turned away for capacity: room_limit (max_viewers_per_room), fanout_load (max_fanout_load) or cpu_load (max_cpu_load).",
	}, []string{"reason"})
	packetsForwarded = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "packets_forwarded_total",
		Help: "RTP packets written to viewers (including retransmissions).",
	})
	packetsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "packets_write_errors_total",
		Help: "RTP packets a viewer's transport refused.",
	})
	packetsMalformed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "packets_malformed_total",
		Help: "Packets from publishers that did not parse as RTP.",
	})
	keyframeRequests = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "keyframe_requests_total",
		Help: "PLIs sent to publishers after coalescing.",
	})
	nacksAnswered = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "nacks_answered_total",
		Help: "Lost packets retransmitted to viewers from the packet cache.",
	})
	nacksMissed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "nacks_missed_total",
		Help: "Lost packets a viewer asked for that were no longer cached.",
	})
	layerSwitches = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "layer_switches_total",
		Help: "Simulcast layer changes made by viewers' DownTracks.",
	})
	viewerKeyframeRequests = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "viewer_keyframe_requests_total",
		Help: "PLI/FIR from viewers: each is a viewer whose picture froze on loss.",
	})
	viewersOnLayerVec = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "viewers_on_layer",
		Help: "Video DownTracks forwarding each simulcast layer now (q, h, f; f also for single-layer streams).",
	}, []string{"layer"})
	dynacastChanges = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "dynacast_changes_total",
		Help: "Changes in which simulcast layers some viewer wants (a layer nobody wants can be paused at an SDK publisher).",
	})
	probesSucceeded = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "bwe_probes_succeeded_total",
		Help: "Bandwidth probes after which a viewer's link was measured carrying more than its estimate.",
	})
	probesFailed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "bwe_probes_failed_total",
		Help: "Bandwidth probes that did not show more capacity than the estimate.",
	})
	fanoutShares = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "fanout_shares_total",
		Help: "Shares of a frame's viewers handed to another core's fan-out worker (large rooms only).",
	})
	datagramsGSO = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "udp_gso_datagrams_total",
		Help: "Media datagrams sent in UDP GSO messages (each a run of one viewer's equal-sized datagrams).",
	})
	datagramsSingle = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "udp_single_datagrams_total",
		Help: "Datagrams a batch sent one by one (a run of one, or no GSO).",
	})
	pacedDatagrams = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "paced_datagrams_total",
		Help: "Datagrams held back by a viewer's pacer (sfu.pacing) and sent once its bucket allowed.",
	})
	pacerOverflows = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "pacer_overflows_total",
		Help: "Times a viewer's paced queue went out at once: its send lane held its most datagrams, or the queue held more than 500 ms at the viewer's rate.",
	})
	// Viewer quality: how long a viewer waits for its first picture, what its link carries,
	// what it loses. Observed per viewer event (a join, an allocation every 200 ms, a
	// receiver report every second or so), never per packet.
	viewerJoinSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "viewer_join_seconds",
		Help:    "From a viewer's transport being connected to its first video keyframe forwarded.",
		Buckets: []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10},
	})
	viewerEstimateBps = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "viewer_estimate_bits_per_second",
		Help:    "Viewers' bandwidth estimates (GCC or REMB), sampled at every allocation (5 a second per viewer of a simulcast host).",
		Buckets: prometheus.ExponentialBuckets(125_000, 2, 10), // 125 kbit/s .. 64 Mbit/s
	})
	viewerLossRatio = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "viewer_loss_ratio",
		Help:    "Fraction of packets lost, as each viewer's receiver reports say (before retransmission).",
		Buckets: []float64{0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5},
	})
	viewerFreezesPerMinute = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "viewer_freezes_per_minute",
		Help:    "Per viewer, at the end of its session (10 s or more of video): its keyframe requests (PLI/FIR, each a picture frozen on loss) per minute watched.",
		Buckets: []float64{0, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
	})
	eventsDropped = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "events_dropped_total",
		Help: "Room events (for webhooks) dropped because 4,096 were already waiting for their callback.",
	})
	roomsGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "rooms",
		Help: "Rooms open on this node.",
	})
	sessionsGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "sessions",
		Help: "WebRTC sessions by role.",
	}, []string{"role"})
	handshakesInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "handshakes_in_flight",
		Help: "Sessions between their offer and the end of their DTLS handshake (bounded by sfu.max_handshakes).",
	})
	handshakesRefused = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "handshakes_refused_total",
		Help: "Sessions refused (503) because sfu.max_handshakes were in progress for longer than sfu.handshake_wait, or their client already had its share of them in progress.",
	})
	hostsGone = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "hosts_gone_total",
		Help: "Live hosts declared gone: silent for host_timeout, or their session failed.",
	})
	sessionsReaped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "sfu", Name: "sessions_reaped_total",
		Help: "Sessions closed by the server, by reason.",
	}, []string{"reason"})
)

// viewersOnLayer holds the gauge of each layer, resolved once: DownTracks move between
// them on every switch.
var viewersOnLayer = [numLayers]prometheus.Gauge{
	viewersOnLayerVec.WithLabelValues("q"), viewersOnLayerVec.WithLabelValues("h"), viewersOnLayerVec.WithLabelValues("f"),
}

// Collectors returns the SFU's metrics for registration on the process registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{packetsForwarded, packetsDropped, packetsMalformed,
		keyframeRequests, nacksAnswered, nacksMissed, layerSwitches, viewerKeyframeRequests, viewersOnLayerVec, dynacastChanges, probesSucceeded, probesFailed, datagramsGSO, datagramsSingle, pacedDatagrams, pacerOverflows, eventsDropped, viewerJoinSeconds, viewerEstimateBps, viewerLossRatio, viewerFreezesPerMinute, fanoutShares, roomsGauge, sessionsGauge, sessionsReaped,
		handshakesInFlight, handshakesRefused, hostsGone, viewersRefused}
}
