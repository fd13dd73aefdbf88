package loadtest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeChat is a WebSocket chat room that acks every chat.send at once and delivers it to
// every connection after delay, except every dropEvery-th delivery (0: none).
type fakeChat struct {
	delay     time.Duration
	dropEvery int

	mu    sync.Mutex
	conns []*fakeChatConn
	n     int
	wg    sync.WaitGroup
}

type fakeChatConn struct {
	mu sync.Mutex
	ws *websocket.Conn
}

func (c *fakeChatConn) write(v any) {
	b, _ := json.Marshal(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.ws.WriteMessage(websocket.TextMessage, b)
}

func (f *fakeChat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{Subprotocols: []string{interactionLabel}}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &fakeChatConn{ws: ws}
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var req struct {
			ID      string `json:"id"`
			Payload struct {
				Text string `json:"text"`
			} `json:"payload"`
		}
		if json.Unmarshal(msg, &req) != nil {
			continue
		}
		c.write(map[string]any{"v": 1, "type": "ack", "id": req.ID})
		f.mu.Lock()
		conns := append([]*fakeChatConn(nil), f.conns...)
		f.mu.Unlock()
		f.wg.Add(1)
		time.AfterFunc(f.delay, func() {
			defer f.wg.Done()
			for _, to := range conns {
				f.mu.Lock()
				f.n++
				drop := f.dropEvery > 0 && f.n%f.dropEvery == 0
				f.mu.Unlock()
				if !drop {
					to.write(map[string]any{"v": 1, "type": "chat.message", "payload": map[string]string{"text": req.Payload.Text}})
				}
			}
		})
	}
}

// TestChatMeasures checks the chat load test's own figures against a fake room with a
// known delivery delay and known dropped deliveries: the tool that judges the server must
// be right.
func TestChatMeasures(t *testing.T) {
	for _, c := range []struct {
		name      string
		dropEvery int
	}{{"every delivery", 0}, {"one in ten dropped", 10}} {
		t.Run(c.name, func(t *testing.T) {
			fake := &fakeChat{delay: 40 * time.Millisecond, dropEvery: c.dropEvery}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			defer fake.wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			rep, err := Chat(ctx, ChatConfig{Server: srv.URL, Room: "r", APIKey: "k", APISecret: "s-long-enough-for-hmac-please",
				Viewers: 20, Rate: 20, PerSender: 2, Duration: 2 * time.Second, JoinConcurrency: 4})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", *rep)
			if rep.Acked != rep.Sent || rep.Sent < 30 {
				t.Fatalf("sent %d, acked %d", rep.Sent, rep.Acked)
			}
			if rep.Expected != rep.Acked*20 {
				t.Fatalf("expected %d deliveries, want acked x viewers = %d", rep.Expected, rep.Acked*20)
			}
			want := rep.Expected
			if c.dropEvery > 0 {
				want -= rep.Expected / uint64(c.dropEvery)
			}
			if d := int64(rep.Delivered) - int64(want); d < -2 || d > 2 {
				t.Fatalf("delivered %d, want %d", rep.Delivered, want)
			}
			if rep.LatencyMs.P50 < 40 || rep.LatencyMs.P50 > 70 {
				t.Fatalf("latency p50 %.1f ms with 40 ms injected", rep.LatencyMs.P50)
			}
		})
	}
}
