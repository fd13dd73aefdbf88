package signaling

import "github.com/prometheus/client_golang/prometheus"

// Gift webhook metrics. The webhook label is the delivery's durable name (a hash of the
// URL: URLs may carry credentials and do not belong in metrics).
var (
	webhookDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "gift_webhook", Name: "deliveries_total",
		Help: "Gift webhook POSTs by result: ok (2xx), rejected (another status), timeout, error (no answer), undecodable (a log record that is not a gift; skipped).",
	}, []string{"webhook", "result"})
	webhookRedeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "gift_webhook", Name: "redeliveries_total",
		Help: "Gift webhook POSTs of a gift that was attempted before (after a failure, a restart or a node's death).",
	}, []string{"webhook"})
	webhookDeadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "gift_webhook", Name: "dead_letters_total",
		Help: "Gifts the webhook gave up on (refused too often, or not taken in time): each is in its room's undelivered gift log.",
	}, []string{"webhook"})
	webhookPendingDesc = prometheus.NewDesc("glint_gift_webhook_pending",
		"Gifts in the log the webhook has not delivered yet, the one in delivery included.", []string{"webhook"}, nil)
)

// Collectors returns the package's process-wide metrics for registration.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{webhookDeliveries, webhookRedeliveries, webhookDeadLetters, candidatesScreened,
		roomWebhookSent, roomWebhookFailed, roomWebhookDead, roomWebhookDropped,
		anonymousWaiting, anonymousWaitTimeouts}
}
