package signaling

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/protojson"
	"github.com/livekit/protocol/webhook"

	"github.com/glintlive/glint/datachannel/gift"
	"github.com/glintlive/glint/signaling/auth"
)

// EventGiftReceived is the webhook event name of a gift.
const EventGiftReceived = "gift_received"

// webhookUserAgent names Glint to the backend; LiveKit's notifier sends "LiveKit".
const webhookUserAgent = "Glint"

// giftEvent is the LiveKit WebhookEvent of a gift: identity is the sender, metadata the
// gift as JSON (the gift.Gift fields), attributes its amount and currency.
func giftEvent(room string, g gift.Gift) *livekit.WebhookEvent {
	meta, _ := json.Marshal(g)
	return &livekit.WebhookEvent{
		Event:     EventGiftReceived,
		Id:        GiftEventID(room, g.From, g.Key),
		CreatedAt: g.At.Unix(),
		Room:      &livekit.Room{Name: room},
		Participant: &livekit.ParticipantInfo{Identity: g.From, Metadata: string(meta),
			Attributes: map[string]string{"amount": strconv.FormatInt(g.Amount, 10), "currency": g.Currency}},
	}
}

// GiftEventID is the webhook event id of a gift. It is stable per (room, sender, key),
// over every delivery attempt and every node, so a backend deduplicates by it; the
// reconcile endpoint reports it too.
func GiftEventID(room, from, key string) string {
	sum := sha256.Sum256([]byte(room + "\x00" + from + "\x00" + key))
	return "GIFT_" + hex.EncodeToString(sum[:12])
}

// webhookRequest is a POST of ev to url as LiveKit's webhook.URLNotifier builds it: the
// event as protojson, content type application/webhook+json, and an Authorization
// token whose sha256 claim covers the body (auth.SignWebhook).
func webhookRequest(ctx context.Context, url, apiKey, apiSecret string, ev *livekit.WebhookEvent) (*http.Request, error) {
	body, err := protojson.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encoding the webhook event: %w", err)
	}
	sig, err := auth.SignWebhook(apiKey, apiSecret, body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", sig)
	req.Header.Set("Content-Type", webhook.ContentType)
	req.Header.Set("User-Agent", webhookUserAgent)
	return req, nil
}
