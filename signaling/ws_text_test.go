package signaling_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/signaling/auth"
)

// TestInteractionTextPolicy sends, over a real WebSocket, every kind of text other people
// see with characters the text policy refuses (docs/PROTOCOL.md, "Text"). Each is answered
// with a bad_payload error carrying the message's id, and nothing reaches the room.
func TestInteractionTextPolicy(t *testing.T) {
	e := newEnv(t, nil)
	withInteraction(t, e)
	host := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "host", Data: true, Admin: true}))
	viewer := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "v", Subscribe: true, Data: true}))

	type refusal struct {
		c   *wsClient
		id  string
		typ string
		p   any
		raw string // sent as is: json.Marshal would repair what the test means to send
	}
	chat := func(id, text string) refusal {
		return refusal{viewer, id, datachannel.TypeChatSend, map[string]string{"text": text}, ""}
	}
	poll := func(id, q string, opts ...string) refusal {
		return refusal{host, id, datachannel.TypePollOpen, map[string]any{"pollId": id, "question": q, "options": opts, "durationMs": 60000}, ""}
	}
	cases := []refusal{
		{viewer, "utf8", "", nil, "{\"v\":1,\"type\":\"chat.send\",\"id\":\"utf8\",\"payload\":{\"text\":\"caf\xc3 \xff\"}}"},
		{viewer, "surrogate", "", nil, `{"v":1,"type":"chat.send","id":"surrogate","payload":{"text":"a\ud800b"}}`},
		{viewer, "nul", "", nil, `{"v":1,"type":"chat.send","id":"nul","payload":{"text":"a\u0000b"}}`},
		chat("rlo", "gnp.\u202eexe"), chat("isolate", "\u2066x\u2069"), chat("bom", "\ufeffhi"),
		chat("zwsp", "\u200b"), chat("esc", "\x1b[2J"), chat("c1", "a\u0085"), chat("tab", "a\tb"),
		chat("cr", "a\r\nb"), chat("ls", "a\u2028b"),
		{viewer, "q", datachannel.TypeQnaAsk, map[string]string{"text": "why\u202e?"}, ""},
		{viewer, "g1", datachannel.TypeGiftSend, map[string]any{"key": "k1", "gift": "rose", "amount": 1, "currency": "EUR", "message": "hi\u202e"}, ""},
		{viewer, "g2", datachannel.TypeGiftSend, map[string]any{"key": "k2", "gift": "ro\x07se", "amount": 1, "currency": "EUR"}, ""},
		poll("p1", "best\u202e?", "a", "b"), poll("p2", "best?", "a", "b\u0000"),
		poll("p3", "two\nlines?", "a", "b"), // labels are one line
		{host, "al", datachannel.TypeAlertShow, map[string]any{"kind": "banner", "text": "\u202eSALE"}, ""},
		{host, "lot", datachannel.TypeAuctionOpen, map[string]any{"lotId": "l1", "title": "vase\u202e", "startPrice": 100, "increment": 10, "durationMs": 60000}, ""},
	}
	for _, tc := range cases {
		if tc.raw != "" {
			if err := tc.c.ws.WriteMessage(websocket.TextMessage, []byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
		} else {
			tc.c.send(tc.typ, tc.id, tc.p)
		}
		if typ, p := tc.c.answer(tc.id); typ != datachannel.TypeError || p["code"] != datachannel.CodeBadPayload {
			t.Errorf("%s: %s %v, want a bad_payload error", tc.id, typ, p)
		}
	}

	// What the policy keeps: a line break in chat, emoji with joiners, RTL text.
	keep := "one\ntwo 👩\u200d👩\u200d👧 שלום"
	viewer.send(datachannel.TypeChatSend, "ok", map[string]string{"text": keep})
	viewer.wantAck("ok")
	if m := host.next(datachannel.TypeChatMessage); m["text"] != keep {
		t.Fatalf("first chat message the room saw: %v, want only the accepted one", m)
	}
}

// TestInteractionBinaryFrame: a binary frame is answered with a bad_json error and never
// read, even when it holds a valid envelope; the connection goes on.
func TestInteractionBinaryFrame(t *testing.T) {
	e := newEnv(t, nil)
	withInteraction(t, e)
	c := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "v", Subscribe: true, Data: true}))
	frame := []byte(`{"v":1,"type":"chat.send","id":"bin","payload":{"text":"sent as binary"}}`)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
	p := c.next(datachannel.TypeError)
	if p["code"] != datachannel.CodeBadJSON {
		t.Fatalf("answer to a binary frame: %v, want bad_json", p)
	}
	c.send(datachannel.TypeChatSend, "text", map[string]string{"text": "sent as text"})
	c.wantAck("text")
	if m := c.next(datachannel.TypeChatMessage); m["text"] != "sent as text" {
		t.Fatalf("the binary frame reached the room: %v", m)
	}
}

// TestInteractionNameRefused: a token whose display name breaks the text policy cannot
// join; the socket is closed with 1008 and a reason that says why.
func TestInteractionNameRefused(t *testing.T) {
	e := newEnv(t, nil)
	withInteraction(t, e)
	c, resp, err := e.dialWS("show", e.token("show", auth.TokenOptions{Identity: "v", Name: "admin\u202e", Subscribe: true, Data: true}), nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := c.ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != websocket.ClosePolicyViolation {
				t.Fatalf("closed with %d %q, want 1008", ce.Code, ce.Text)
			}
			return
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		t.Fatalf("a client with a bidi override in its name was served: %s", b)
	}
}
