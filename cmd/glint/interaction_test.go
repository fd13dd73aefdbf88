package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestServeInteraction starts the whole server on a temporary data directory and talks
// the interaction protocol to it over GET /ws/{room}: a bid is acknowledged (so the
// embedded bus stored it), and after a restart on the same directory a retry of it is
// recognised.
func TestServeInteraction(t *testing.T) {
	dir := t.TempDir()
	bid := func(open bool) map[string]any {
		cfg := testConfig(t)
		cfg.DataDir = dir // both servers on one data directory
		a, stop := startApp(t, cfg)
		defer stop()
		dial := func(identity string, admin bool) *websocket.Conn {
			tok, err := auth.Issue(devKey, devSecret, auth.TokenOptions{Room: "show", Identity: identity, Subscribe: true, Data: true, Admin: admin, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.URL(), "http")+"/ws/show?access_token="+tok, nil)
			if err != nil {
				t.Fatal(err)
			}
			return ws
		}
		host, alice := dial("host", true), dial("alice", false)
		defer host.Close()
		defer alice.Close()
		if open { // the second server has the lot from the bus
			send(t, host, `{"v":1,"type":"auction.open","id":"o","payload":{"lotId":"lot","startPrice":100,"increment":10,"durationMs":600000}}`)
			answer(t, host, "o")
		}
		send(t, alice, `{"v":1,"type":"auction.bid","id":"b1","payload":{"lotId":"lot","bidId":"b1","amount":100}}`)
		return answer(t, alice, "b1")
	}
	first := bid(true)
	if first["duplicate"] != false {
		t.Fatalf("first bid %v", first)
	}
	again := bid(false) // a new server on the same data directory
	if again["duplicate"] != true || again["logSeq"] != first["logSeq"] {
		t.Fatalf("retry after restart %v, first %v", again, first)
	}
}

func send(t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// answer reads until the ack or error for id and returns an ack's payload.
func answer(t *testing.T, ws *websocket.Conn, id string) map[string]any {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var env datachannel.Envelope
		if err := json.Unmarshal(b, &env); err != nil || env.ID != id {
			continue
		}
		var p map[string]any
		_ = json.Unmarshal(env.Payload, &p)
		if env.Type != datachannel.TypeAck {
			t.Fatalf("%s: %s %v", id, env.Type, p)
		}
		return p
	}
}

// TestServePresenceCountsEveryViewer: presence counts a room's WHEP viewers (with the
// interaction channel or without) and its WebSocket connections, each once.
func TestServePresenceCountsEveryViewer(t *testing.T) {
	cfg := testConfig(t)
	a, stop := startApp(t, cfg)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := auth.Issue(devKey, devSecret, auth.TokenOptions{Room: "show", Identity: "v", Subscribe: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	whep := func(ctx context.Context, offer string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.URL()+"/whep/show", strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("WHEP: %s: %s", resp.Status, b)
		}
		return string(b), nil
	}
	plain, err := sfutest.NewViewer(ctx, whep)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	withDC, err := sfutest.NewViewer(ctx, whep, sfutest.WithDataChannel(datachannel.Label))
	if err != nil {
		t.Fatal(err)
	}
	defer withDC.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.URL(), "http")+"/ws/show?access_token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// Two WebRTC viewers and one WebSocket: 3, whatever order the counts settle in.
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	last := -1
	for last != 3 {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("presence never reached 3 (last %d): %v", last, err)
		}
		var env datachannel.Envelope
		if json.Unmarshal(b, &env) != nil || env.Type != datachannel.TypePresence {
			continue
		}
		var p struct{ Viewers int }
		_ = json.Unmarshal(env.Payload, &p)
		last = p.Viewers
		if last > 3 {
			t.Fatalf("presence %d: a viewer counted twice", last)
		}
	}
}
