package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"

	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

// TestServeGiftWebhook runs the server with gift_webhooks: a gift sent over the
// WebSocket reaches the backend signed with the server's key, is in the room's gift log
// for the backend's roomAdmin token, and the webhook's metrics are on /metrics (LiveKit's
// notifier stats, never served before, are gone).
func TestServeGiftWebhook(t *testing.T) {
	got := make(chan *livekit.WebhookEvent, 10)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := webhook.ReceiveWebhookEvent(r, lkauth.NewSimpleKeyProvider(devKey, devSecret))
		if err != nil {
			t.Errorf("webhook does not verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got <- ev
	}))
	defer backend.Close()
	cfg := testConfig(t)
	cfg.GiftWebhooks = []string{backend.URL}
	a, stop := startApp(t, cfg)
	defer stop()
	token := func(identity string, admin bool) string {
		tok, err := auth.Issue(devKey, devSecret, auth.TokenOptions{Room: "show", Identity: identity, Subscribe: true, Data: true, Admin: admin, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.URL(), "http")+"/ws/show?access_token="+token("alice", false), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	send(t, ws, `{"v":1,"type":"gift.send","id":"g","payload":{"key":"k1","gift":"rose","amount":500,"currency":"EUR"}}`)
	answer(t, ws, "g")
	select {
	case ev := <-got:
		if ev.Id != signaling.GiftEventID("show", "alice", "k1") || ev.Room.GetName() != "show" {
			t.Fatalf("webhook %v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook within 10s")
	}

	get := func(path, tok string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, a.URL()+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get("/rooms/show/gifts", token("alice", false)); code != http.StatusForbidden {
		t.Fatalf("a viewer read the gift log: %d", code)
	}
	code, body := get("/rooms/show/gifts", token("backend", true))
	var page struct {
		Gifts []struct {
			Key string `json:"key"`
		} `json:"gifts"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil || len(page.Gifts) != 1 || page.Gifts[0].Key != "k1" {
		t.Fatalf("gift log: %d %s", code, body)
	}
	// The backend has the gift before the webhook has its answer and counts the delivery:
	// /metrics is read until it does (a CI run read it once, too early, and failed).
	var mcode int
	var metrics string
	wants := []string{`glint_gift_webhook_deliveries_total{result="ok"`, "glint_gift_webhook_pending{"}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mcode, metrics = get("/metrics", "")
		missing := ""
		for _, want := range wants {
			if !strings.Contains(metrics, want) {
				missing = want
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			var said []string
			for _, l := range strings.Split(metrics, "\n") {
				if strings.Contains(l, "gift_webhook") && !strings.HasPrefix(l, "#") {
					said = append(said, l)
				}
			}
			t.Fatalf("/metrics (status %d) lacks %s 10 s after the delivery; its gift_webhook lines: %q", mcode, missing, said)
		}
	}
	if strings.Contains(metrics, "livekit_webhook") {
		t.Error("/metrics has LiveKit's webhook stats")
	}
}
