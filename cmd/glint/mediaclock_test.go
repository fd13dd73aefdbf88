package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestEventsOnThePublishersClock: a host whose clock runs 7 s ahead of the server's
// publishes; a chat message accepted while it does carries, as mediaTime, the capture
// time on the host's clock of the frame at the live edge, within 50 ms: the room's media
// clock from the host's sender reports, not the server's wall clock.
func TestEventsOnThePublishersClock(t *testing.T) {
	const skew = 7 * time.Second
	cfg := testConfig(t)
	a, stop := startApp(t, cfg)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := sfutest.NewPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(a.sfu, "show", offer, sfutest.Logger())
		return answer, err
	}, sfutest.WithClockOffset(skew))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sending := make(chan error, 1)
	go func() { sending <- pub.SendFrames(ctx, 0, 30*10, 30, 30) }()
	defer func() { cancel(); <-sending }()

	tok, err := auth.Issue(devKey, devSecret, auth.TokenOptions{Room: "show", Identity: "alice", Subscribe: true, Data: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.URL(), "http")+"/ws/show?access_token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// The media clock needs the host's first sender reports (pion sends one a second).
	for i := 0; ; i++ {
		if _, ok := a.sfu.Room("show").LiveEdge(); ok {
			break
		}
		if i == 50 {
			t.Fatal("no media clock 5 s into the broadcast")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range 5 {
		sent := time.Now()
		id := "c" + string(rune('0'+i))
		send(t, ws, `{"v":1,"type":"chat.send","id":"`+id+`","payload":{"text":"now"}}`)
		mediaTime := ackMediaTime(t, ws, id)
		hostNow := sent.Add(skew).UnixMilli()
		if d := hostNow - mediaTime; d < -50 || d > 50 {
			t.Fatalf("chat accepted at host time %d carries mediaTime %d: %d ms apart, want within 50", hostNow, mediaTime, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ackMediaTime reads until the ack for id and returns its envelope's mediaTime.
func ackMediaTime(t *testing.T, ws *websocket.Conn, id string) int64 {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			Type      string `json:"type"`
			ID        string `json:"id"`
			MediaTime int64  `json:"mediaTime"`
		}
		if err := json.Unmarshal(msg, &env); err != nil {
			t.Fatal(err)
		}
		if env.ID == id {
			if env.Type != "ack" {
				t.Fatalf("answer to %s: %s", id, msg)
			}
			return env.MediaTime
		}
	}
}
