package signaling

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/gift"
)

// EventGiftReceived is the webhook event name of a gift.
const EventGiftReceived = "gift_received"

// GiftWebhook is a datachannel.GiftSink that POSTs each gift to the host's backend as a LiveKit
// webhook (livekit/protocol webhook): a WebhookEvent signed with the API key and secret,
// which the backend checks with LiveKit's webhook.ReceiveWebhookEvent as for any LiveKit
// event. The gift is in the event's participant: identity is the sender, metadata the
// gift as JSON (the `gift.Gift` fields), and the event id is stable per (room, sender,
// key), so a backend can deduplicate.
//
// Delivery is LiveKit's: retried with backoff, in order per room, dropped when far
// behind. The gift itself is already durable on the bus before this is called; a
// backend that must not miss one reconciles against the gift log.
type GiftWebhook struct {
	notifiers []*webhook.URLNotifier
	log       *zap.Logger
}

var _ datachannel.GiftSink = (*GiftWebhook)(nil)

// NewGiftWebhook sends to every URL in urls, signing with apiKey/apiSecret.
func NewGiftWebhook(urls []string, apiKey, apiSecret string, log *zap.Logger) (*GiftWebhook, error) {
	if apiKey == "" || apiSecret == "" {
		return nil, fmt.Errorf("signaling: the gift webhook needs an API key and secret to sign with")
	}
	// LiveKit's notifier counts dispatches in Prometheus metrics it must be told to
	// create first (on the default registry, which /metrics serves); it is idempotent.
	webhook.InitWebhookStats(nil)
	w := &GiftWebhook{log: log.Named("giftwebhook")}
	for _, u := range urls {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("signaling: webhook url %q is not an http(s) URL", u)
		}
		w.notifiers = append(w.notifiers, webhook.NewURLNotifier(webhook.URLNotifierParams{
			URL: u, APIKey: apiKey, APISecret: apiSecret,
			Config: webhook.URLNotifierConfig{NumWorkers: 4, QueueSize: 1000},
		}))
	}
	return w, nil
}

// Gift implements GiftSink.
func (w *GiftWebhook) Gift(ctx context.Context, room string, g gift.Gift) {
	meta, _ := json.Marshal(g)
	ev := &livekit.WebhookEvent{
		Event:       EventGiftReceived,
		Id:          giftEventID(room, g),
		CreatedAt:   g.At.Unix(),
		Room:        &livekit.Room{Name: room},
		Participant: &livekit.ParticipantInfo{Identity: g.From, Metadata: string(meta), Attributes: map[string]string{"amount": strconv.FormatInt(g.Amount, 10), "currency": g.Currency}},
	}
	for _, n := range w.notifiers {
		if err := n.QueueNotify(ctx, ev); err != nil {
			w.log.Warn("queueing a gift webhook", zap.String("room", room), zap.Error(err))
		}
	}
}

// Close waits for queued webhooks to be sent (or given up on).
func (w *GiftWebhook) Close() {
	for _, n := range w.notifiers {
		n.Stop(false)
	}
}

// giftEventID is stable per (room, sender, key), so a backend can deduplicate.
func giftEventID(room string, g gift.Gift) string {
	sum := sha256.Sum256([]byte(room + "\x00" + g.From + "\x00" + g.Key))
	return "GIFT_" + hex.EncodeToString(sum[:12])
}
