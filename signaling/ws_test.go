package signaling_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// withInteraction adds a hub on an in-memory bus and serves /ws/{room} from it.
func withInteraction(t *testing.T, e *env) *datachannel.Hub {
	t.Helper()
	hub, err := datachannel.NewHub(datachannel.DefaultConfig(), bus.NewMemory(), datachannel.Options{}, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	e.sig.EnableInteraction(hub)
	t.Cleanup(hub.Close) // runs before the server's cleanup: closes every socket first
	return hub
}

type wsClient struct {
	t       *testing.T
	ws      *websocket.Conn
	backlog []datachannel.Envelope
	arrays  int // batched frames read
}

func (e *env) dialWS(room, token string, header http.Header) (*wsClient, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/" + room
	if token != "" {
		u += "?access_token=" + token
	}
	ws, resp, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		return nil, resp, err
	}
	c := &wsClient{t: e.t, ws: ws}
	e.t.Cleanup(func() { _ = ws.Close() })
	return c, resp, nil
}

func (e *env) mustDialWS(room, token string) *wsClient {
	e.t.Helper()
	c, resp, err := e.dialWS(room, token, nil)
	if err != nil {
		e.t.Fatalf("dial: %v (%v)", err, resp)
	}
	c.next(datachannel.TypeWelcome)
	return c
}

func (c *wsClient) send(typ, id string, payload any) {
	c.t.Helper()
	p, _ := json.Marshal(payload)
	b, _ := json.Marshal(datachannel.Envelope{V: 1, Type: typ, ID: id, Payload: p})
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatal(err)
	}
}

// take returns the first message ok accepts, keeping the others for later. The read
// deadline only keeps a broken test from hanging.
func (c *wsClient) take(ok func(*datachannel.Envelope) bool) *datachannel.Envelope {
	c.t.Helper()
	for i, env := range c.backlog {
		if ok(&env) {
			c.backlog = append(c.backlog[:i], c.backlog[i+1:]...)
			return &env
		}
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		envs, batched := decodeFrame(c.t, b)
		if batched {
			c.arrays++
		}
		for i, env := range envs {
			if ok(&env) {
				c.backlog = append(c.backlog, envs[i+1:]...)
				return &env
			}
			c.backlog = append(c.backlog, env)
		}
	}
}

// decodeFrame splits a frame from the server into its envelopes: one, or an array of
// two or more on a batched connection (docs/PROTOCOL.md, Framing).
func decodeFrame(t *testing.T, b []byte) (envs []datachannel.Envelope, batched bool) {
	t.Helper()
	if len(b) > 0 && b[0] == '[' {
		if err := json.Unmarshal(b, &envs); err != nil || len(envs) < 2 {
			t.Fatalf("bad batched frame from the server (%v): %s", err, b)
		}
		return envs, true
	}
	var env datachannel.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("bad JSON from the server: %s", b)
	}
	return []datachannel.Envelope{env}, false
}

func (c *wsClient) next(typ string) map[string]any {
	c.t.Helper()
	return payload(c.t, c.take(func(e *datachannel.Envelope) bool { return e.Type == typ }))
}

func (c *wsClient) nextWhere(typ string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	return payload(c.t, c.take(func(e *datachannel.Envelope) bool { return e.Type == typ && ok(payload(c.t, e)) }))
}

func (c *wsClient) answer(id string) (string, map[string]any) {
	c.t.Helper()
	env := c.take(func(e *datachannel.Envelope) bool {
		return (e.Type == datachannel.TypeAck || e.Type == datachannel.TypeError) && e.ID == id
	})
	return env.Type, payload(c.t, env)
}

func (c *wsClient) wantAck(id string) map[string]any {
	c.t.Helper()
	typ, p := c.answer(id)
	if typ != datachannel.TypeAck {
		c.t.Fatalf("%s: %s %v, want an ack", id, typ, p)
	}
	return p
}

func (c *wsClient) wantError(id, code string) {
	c.t.Helper()
	typ, p := c.answer(id)
	if typ != datachannel.TypeError || p["code"] != code {
		c.t.Fatalf("%s: %s %v, want error %s", id, typ, p, code)
	}
}

func payload(t *testing.T, env *datachannel.Envelope) map[string]any {
	t.Helper()
	var m map[string]any
	if len(env.Payload) > 0 {
		if err := json.Unmarshal(env.Payload, &m); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func n(v any) int64 { f, _ := v.(float64); return int64(f) }

// TestInteractionWebSocket runs chat, a poll and an auction end to end between WebSocket
// clients with real tokens.
func TestInteractionWebSocket(t *testing.T) {
	e := newEnv(t, nil)
	withInteraction(t, e)
	host := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "host", Admin: true}))
	alice := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "alice", Subscribe: true, Data: true}))
	bob := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "bob", Subscribe: true, Data: true}))

	alice.send(datachannel.TypeChatSend, "c1", map[string]string{"text": "hi all"})
	alice.wantAck("c1")
	if m := bob.next(datachannel.TypeChatMessage); m["from"] != "alice" || m["text"] != "hi all" {
		t.Fatalf("chat %v", m)
	}

	host.send(datachannel.TypePollOpen, "p", map[string]any{"pollId": "p1", "question": "Go on?", "options": []string{"yes", "no"}, "durationMs": 60000})
	host.wantAck("p")
	alice.send(datachannel.TypePollVote, "v", map[string]any{"pollId": "p1", "option": 0})
	alice.wantAck("v")
	bob.send(datachannel.TypePollVote, "v", map[string]any{"pollId": "p1", "option": 0})
	bob.wantAck("v")
	host.nextWhere(datachannel.TypePollState, func(p map[string]any) bool { return n(p["total"]) == 2 })

	host.send(datachannel.TypeAuctionOpen, "o", map[string]any{"lotId": "lot", "startPrice": 100, "increment": 10, "durationMs": 60000})
	host.wantAck("o")
	alice.send(datachannel.TypeAuctionBid, "a1", map[string]any{"lotId": "lot", "bidId": "a1", "amount": 100})
	alice.wantAck("a1")
	bob.send(datachannel.TypeAuctionBid, "b1", map[string]any{"lotId": "lot", "bidId": "b1", "amount": 120})
	bob.wantAck("b1")
	if o := alice.next(datachannel.TypeAuctionOutbid); n(o["highAmount"]) != 120 {
		t.Fatalf("outbid %v", o)
	}
	host.send(datachannel.TypeAuctionEnd, "close", map[string]any{"lotId": "lot"})
	host.wantAck("close")
	if c := alice.next(datachannel.TypeAuctionClosed); c["winner"] != "bob" || n(c["amount"]) != 120 {
		t.Fatalf("closed %v", c)
	}
}

func TestInteractionWebSocketAuth(t *testing.T) {
	e := newEnv(t, func(_ *sfuConfig, g *sigConfig) { g.CORSOrigins = []string{"https://good.example"} })
	withInteraction(t, e)
	good := e.token("show", auth.TokenOptions{Identity: "a", Subscribe: true})
	tests := []struct {
		name, room, token string
		header            http.Header
		status            int
	}{
		{"no token, anonymous off", "show", "", nil, http.StatusUnauthorized},
		{"bad token", "show", "not-a-token", nil, http.StatusUnauthorized},
		{"other room", "other", good, nil, http.StatusForbidden},
		{"invalid room", "a%20b", good, nil, http.StatusBadRequest},
		{"foreign origin", "show", good, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
	}
	for _, tt := range tests {
		_, resp, err := e.dialWS(tt.room, tt.token, tt.header)
		if err == nil || resp == nil || resp.StatusCode != tt.status {
			t.Errorf("%s: err %v, response %v, want status %d", tt.name, err, resp, tt.status)
		}
	}
	if _, _, err := e.dialWS("show", good, http.Header{"Origin": {"https://good.example"}}); err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
}

func TestInteractionWebSocketAnonymous(t *testing.T) {
	e := newEnv(t, func(_ *sfuConfig, g *sigConfig) { g.AllowAnonymousViewing = true })
	withInteraction(t, e)
	if _, resp, err := e.dialWS("show", "", nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("anonymous to a room without media: %v %v, want 404", err, resp)
	}
	room, err := e.sfu.Join("show", sfu.RolePublisher)
	if err != nil {
		t.Fatal(err)
	}
	defer room.Leave(sfu.RolePublisher)
	anon := e.mustDialWS("show", "")
	anon.send(datachannel.TypeChatSend, "c", map[string]string{"text": "hi"})
	anon.wantError("c", datachannel.CodeForbidden)
	alice := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "alice", Subscribe: true, Data: true}))
	alice.send(datachannel.TypeChatSend, "c", map[string]string{"text": "hello"})
	alice.wantAck("c")
	if m := anon.next(datachannel.TypeChatMessage); m["text"] != "hello" {
		t.Fatalf("anonymous viewer got %v", m)
	}
}

func TestInteractionWebSocketBadInput(t *testing.T) {
	e := newEnv(t, nil)
	hub := withInteraction(t, e)
	c := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "m", Subscribe: true, Data: true}))
	for _, msg := range []string{`{"v":1,"type":`, `{"v":1,"type":"nope","id":"x"}`, `{"v":1,"type":"chat.send","payload":{"text":"` + strings.Repeat("x", hub.MaxMessageBytes()) + `"}}`} {
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for _, code := range []string{datachannel.CodeBadJSON, datachannel.CodeUnknownType, datachannel.CodeTooLarge} {
		if p := c.next(datachannel.TypeError); p["code"] != code {
			t.Fatalf("error %v, want %s", p, code)
		}
	}
	c.send(datachannel.TypeChatSend, "ok", map[string]string{"text": "still here"})
	c.wantAck("ok")
	// A frame far beyond the limit is not read at all: the socket is closed.
	huge := strings.Repeat("x", 8*hub.MaxMessageBytes())
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte(huge))
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < 100; i++ {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			return // closed, as it should be
		}
	}
	t.Fatal("the socket stayed open after a huge frame")
}
