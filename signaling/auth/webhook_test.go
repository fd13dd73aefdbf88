package auth

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/webhook"
)

// TestSignWebhook checks the signature with LiveKit's own receiver: it verifies the body
// it was made for, with the right secret, and nothing else.
func TestSignWebhook(t *testing.T) {
	body := []byte(`{"event":"gift_received","id":"GIFT_1"}`)
	sig, err := SignWebhook("APIhost", "host-secret", body)
	if err != nil {
		t.Fatal(err)
	}
	keys := lkauth.NewSimpleKeyProvider("APIhost", "host-secret")
	for _, c := range []struct {
		name string
		body []byte
		auth string
		keys lkauth.KeyProvider
		want error
	}{
		{"valid", body, sig, keys, nil},
		{"tampered body", []byte(`{"event":"gift_received","id":"GIFT_2"}`), sig, keys, webhook.ErrInvalidChecksum},
		{"other secret", body, sig, lkauth.NewSimpleKeyProvider("APIhost", "not-the-secret"), errAny},
		{"unknown key", body, sig, lkauth.NewSimpleKeyProvider("APIother", "host-secret"), webhook.ErrSecretNotFound},
		{"unsigned", body, "", keys, webhook.ErrNoAuthHeader},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(c.body))
			if c.auth != "" {
				r.Header.Set("Authorization", c.auth)
			}
			got, err := webhook.Receive(r, c.keys)
			switch {
			case c.want == nil && (err != nil || !bytes.Equal(got, c.body)):
				t.Fatalf("Receive: %q, %v", got, err)
			case c.want == errAny && err == nil:
				t.Fatal("verified")
			case c.want != nil && c.want != errAny && !errors.Is(err, c.want):
				t.Fatalf("Receive: %v, want %v", err, c.want)
			}
		})
	}
	if _, err := SignWebhook("", "s", body); err == nil {
		t.Error("signed without a key")
	}
}

var errAny = errors.New("any error")
