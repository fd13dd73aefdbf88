package signaling_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/gift"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

// TestGiftWebhook sends a gift over the WebSocket and checks it reaches the host's
// backend as a LiveKit webhook that LiveKit's own receiver verifies, once, however often
// the client retries.
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
	sink, err := signaling.NewGiftWebhook([]string{backend.URL}, "APIhost", "host-secret", sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	e := newEnv(t, nil)
	hub, err := datachannel.NewHub(datachannel.DefaultConfig(), bus.NewMemory(), datachannel.Options{Gifts: sink}, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	e.sig.EnableInteraction(hub)
	t.Cleanup(hub.Close)

	alice := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "alice", Subscribe: true, Data: true}))
	g := map[string]any{"key": "k1", "gift": "rocket", "amount": 2500, "currency": "USD", "message": "go go go"}
	alice.send(datachannel.TypeGiftSend, "1", g)
	alice.wantAck("1")
	alice.send(datachannel.TypeGiftSend, "2", g) // a retry
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
	if ev.Event != signaling.EventGiftReceived || ev.Room.GetName() != "show" || ev.Participant.GetIdentity() != "alice" ||
		sent.Amount != 2500 || sent.Currency != "USD" || sent.Key != "k1" || ev.Id == "" {
		t.Fatalf("webhook %v, gift %+v", ev, sent)
	}
	hub.Close() // flushes the hub's notifications, so a second webhook would be queued by now
	sink.Close()
	select {
	case ev := <-got:
		t.Fatalf("a second webhook for one gift: %v", ev)
	default:
	}
}

func TestGiftWebhookConfig(t *testing.T) {
	if _, err := signaling.NewGiftWebhook([]string{"ftp://x"}, "k", "s", sfutest.Logger()); err == nil {
		t.Error("ftp URL accepted")
	}
	if _, err := signaling.NewGiftWebhook([]string{"https://x"}, "", "", sfutest.Logger()); err == nil {
		t.Error("no signing key accepted")
	}
}
