package datachannel

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	"go.uber.org/zap/zaptest"

	"github.com/glintlive/glint/datachannel/gift"
	"github.com/glintlive/glint/signaling/auth"
)

// TestGiftWebhook checks a gift reaches the host's backend as a LiveKit webhook that
// LiveKit's own receiver verifies, once, however often the client retries.
func TestGiftWebhook(t *testing.T) {
	keys := auth.KeyProvider{"APIhost": "host-secret"}
	got := make(chan *livekit.WebhookEvent, 10)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := webhook.ReceiveWebhookEvent(r, keys)
		if err != nil {
			t.Errorf("webhook does not verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got <- ev
	}))
	defer backend.Close()
	sink, err := NewGiftWebhook([]string{backend.URL}, "APIhost", "host-secret", zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	h := newTestHub(t, hubOpts{opts: Options{Gifts: sink}})
	alice := join(t, h, claims("alice", true, false))
	g := giftSend{Key: "k1", Gift: "rocket", Amount: 2500, Currency: "USD", Message: "go go go"}
	alice.send(TypeGiftSend, "1", g)
	alice.wantAck("1")
	alice.send(TypeGiftSend, "2", g) // a retry
	alice.wantAck("2")
	var ev *livekit.WebhookEvent
	select {
	case ev = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook within 10s")
	}
	var sent gift.Gift
	if err := json.Unmarshal([]byte(ev.Participant.GetMetadata()), &sent); err != nil {
		t.Fatal(err)
	}
	if ev.Event != EventGiftReceived || ev.Room.GetName() != room1 || ev.Participant.GetIdentity() != "alice" ||
		sent.Amount != 2500 || sent.Currency != "USD" || sent.Key != "k1" || ev.Id == "" {
		t.Fatalf("webhook %v, gift %+v", ev, sent)
	}
	h.Close() // flushes the sideline, so a second webhook would be queued by now
	sink.Close()
	select {
	case ev := <-got:
		t.Fatalf("a second webhook for one gift: %v", ev)
	default:
	}
}

func TestGiftWebhookConfig(t *testing.T) {
	log := zaptest.NewLogger(t)
	if _, err := NewGiftWebhook([]string{"ftp://x"}, "k", "s", log); err == nil {
		t.Error("ftp URL accepted")
	}
	if _, err := NewGiftWebhook([]string{"https://x"}, "", "", log); err == nil {
		t.Error("no signing key accepted")
	}
}
