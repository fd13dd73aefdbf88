package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	lkauth "github.com/livekit/protocol/auth"
)

// WebhookTokenTTL is how long a webhook signature is valid. Each delivery attempt is
// signed afresh, so a webhook retried hours later still verifies.
const WebhookTokenTTL = 5 * time.Minute

// SignWebhook returns the Authorization value of a webhook request with this body, as a
// LiveKit server signs its webhooks: a token of the API key whose sha256 claim is the
// body's SHA-256 in standard base64. livekit/protocol's webhook.Receive (and so every
// LiveKit server SDK's webhook receiver) verifies it.
func SignWebhook(apiKey, apiSecret string, body []byte) (string, error) {
	if apiKey == "" || apiSecret == "" {
		return "", errors.New("auth: API key and secret are required to sign a webhook")
	}
	sum := sha256.Sum256(body)
	return lkauth.NewAccessToken(apiKey, apiSecret).
		SetValidFor(WebhookTokenTTL).
		SetSha256(base64.StdEncoding.EncodeToString(sum[:])).
		ToJWT()
}
