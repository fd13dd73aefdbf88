package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"

	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestWebhooksConfig: `webhooks` in the config makes the server send LiveKit's room events
// to the URL: a pion host publishing is room_started, participant_joined and
// track_published, each verified by LiveKit's webhook receiver with the server's key.
func TestWebhooksConfig(t *testing.T) {
	var mu sync.Mutex
	got := map[string]bool{}
	cfg := testConfig(t)
	cfg.Webhooks = []string{webhookBackend(t, cfg, func(ev *livekit.WebhookEvent) {
		mu.Lock()
		got[ev.Event] = true
		mu.Unlock()
	})}
	a, stop := startApp(t, cfg)
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := auth.Issue(cfg.APIKey, cfg.APISecret, auth.TokenOptions{Room: "show", Identity: "host", Publish: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sfutest.NewPublisher(ctx, httpSignal(a.URL()+"/whip/show", tok))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.SendFrames(ctx, 0, 5, 30, 30); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		done := got["room_started"] && got["participant_joined"] && got["track_published"]
		seen := fmt.Sprint(got)
		mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backend got %s; want room_started, participant_joined, track_published", seen)
		}
	}
}

// webhookBackend is a backend that verifies every webhook with LiveKit's receiver and the
// key of cfg, and hands each to on; it answers 401 to one that does not verify.
func webhookBackend(t *testing.T, cfg Config, on func(*livekit.WebhookEvent)) string {
	t.Helper()
	keys := lkauth.NewSimpleKeyProvider(cfg.APIKey, cfg.APISecret)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := webhook.ReceiveWebhookEvent(r, keys)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		on(ev)
	}))
	t.Cleanup(backend.Close)
	return backend.URL
}
