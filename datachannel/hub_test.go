package datachannel

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestChatEndToEnd(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	host := join(t, h, claims("host", true, true))
	alice := join(t, h, claims("alice", true, false))
	anon := join(t, h, nil)

	alice.send(TypeChatSend, "c1", chatSend{Text: "hello"})
	ack := alice.wantAck("c1")
	for _, c := range []*client{host, alice, anon} {
		env := c.next(TypeChatMessage)
		p := payloadOf(t, env)
		if env.From != "alice" || p["text"] != "hello" || p["messageId"] != ack["messageId"] || env.Seq == 0 || env.MediaTime != 1_700_000_000_000 {
			t.Fatalf("chat message %+v %v", env, p)
		}
	}
	// Anonymous viewers only receive; viewers without canPublishData too.
	anon.send(TypeChatSend, "a1", chatSend{Text: "hi"})
	anon.wantError("a1", CodeForbidden)
	ro := join(t, h, claims("readonly", false, false))
	ro.send(TypeChatSend, "r1", chatSend{Text: "hi"})
	ro.wantError("r1", CodeForbidden)
	// Only admins moderate.
	alice.send(TypeChatBan, "b1", chatIdentity{Identity: "host"})
	alice.wantError("b1", CodeForbidden)

	// A joiner gets the history.
	late := join(t, h, claims("late", true, false))
	hist := payloadOf(t, late.next(TypeChatHistory))
	if msgs := hist["messages"].([]any); len(msgs) != 1 {
		t.Fatalf("history %v", hist)
	}
	// Delete by author, pin by host.
	alice.send(TypeChatSend, "c2", chatSend{Text: "second"})
	id2 := alice.wantAck("c2")["messageId"].(string)
	host.send(TypeChatPin, "p1", chatRef{MessageID: id2})
	host.wantAck("p1")
	late.nextWhere(TypeChatPinned, func(p map[string]any) bool { return p["message"] != nil })
	late.send(TypeChatDelete, "d1", chatRef{MessageID: id2})
	late.wantError("d1", CodeForbidden)
	alice.send(TypeChatDelete, "d2", chatRef{MessageID: id2})
	alice.wantAck("d2")
	late.next(TypeChatDeleted)

	// Ban: messages go, later sends refused.
	host.send(TypeChatBan, "ban", chatIdentity{Identity: "alice"})
	host.wantAck("ban")
	alice.send(TypeChatSend, "c3", chatSend{Text: "still here?"})
	alice.wantError("c3", CodeBanned)
}

// TestBadInput sends everything a broken or hostile client might, and checks each gets a
// clear error to the sender while another client sees nothing but the good message after.
func TestBadInput(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	bob := join(t, h, claims("bob", true, false))
	mallory := join(t, h, claims("mallory", true, false))
	tests := []struct {
		name, msg, code string
	}{
		{"malformed", `{"v":1,"type":"chat.send",`, CodeBadJSON},
		{"not an object", `"hello"`, CodeBadJSON},
		{"unknown type", `{"v":1,"type":"auction.steal","id":"x"}`, CodeUnknownType},
		{"server type", `{"v":1,"type":"auction.closed","id":"x"}`, CodeUnknownType},
		{"version", `{"v":9,"type":"chat.send","id":"x"}`, CodeBadVersion},
		{"oversized", `{"v":1,"type":"chat.send","payload":{"text":"` + strings.Repeat("x", 5000) + `"}}`, CodeTooLarge},
		{"forged from", `{"v":1,"type":"chat.send","id":"x","from":"bob","payload":{"text":"I am bob"}}`, CodeForgedFrom},
		{"other room", `{"v":1,"type":"chat.send","id":"x","room":"other","payload":{"text":"x"}}`, CodeWrongRoom},
		{"bad payload", `{"v":1,"type":"chat.send","id":"x","payload":{"text":5}}`, CodeBadPayload},
		{"unknown payload field", `{"v":1,"type":"chat.send","id":"x","payload":{"text":"a","admin":true}}`, CodeBadPayload},
		{"empty text", `{"v":1,"type":"chat.send","id":"x","payload":{"text":" "}}`, CodeBadPayload},
		{"bid on no lot", `{"v":1,"type":"auction.bid","id":"x","payload":{"lotId":"none","bidId":"b","amount":5}}`, CodeNotFound},
		{"vote on no poll", `{"v":1,"type":"poll.vote","id":"x","payload":{"pollId":"none","option":0}}`, CodeNotFound},
		{"admin only", `{"v":1,"type":"auction.open","id":"x","payload":{"lotId":"l"}}`, CodeForbidden},
	}
	for _, tt := range tests {
		mallory.raw([]byte(tt.msg))
		env := mallory.next(TypeError)
		p := payloadOf(t, env)
		if p["code"] != tt.code || p["message"] == "" {
			t.Errorf("%s: error %v, want code %s", tt.name, p, tt.code)
		}
	}
	mallory.send(TypeChatSend, "ok", chatSend{Text: "after all that"})
	mallory.wantAck("ok")
	// bob saw exactly one chat message, mallory's good one, and no errors.
	env := bob.next(TypeChatMessage)
	if env.From != "mallory" || payloadOf(t, env)["text"] != "after all that" {
		t.Fatalf("bob got %+v", env)
	}
	for _, e := range bob.drain() {
		if e.Type == TypeError || e.Type == TypeChatMessage {
			t.Fatalf("bob got %s %s", e.Type, e.Payload)
		}
	}
}

// TestRefusedMessagesAnswerTheirID: a message refused before or while parsing (too large,
// an unknown envelope field) is answered under its id, with ref, so the client knows which
// of its messages failed.
func TestRefusedMessagesAnswerTheirID(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	c := join(t, h, claims("alice", true, false))
	tests := []struct{ id, msg, code string }{
		{"big-1", `{"v":1,"type":"chat.send","id":"big-1","payload":{"text":"` + strings.Repeat("x", 5000) + `"}}`, CodeTooLarge},
		{"odd-1", `{"v":1,"type":"chat.send","id":"odd-1","admin":true,"payload":{"text":"hi"}}`, CodeBadJSON},
	}
	for _, tt := range tests {
		c.raw([]byte(tt.msg))
		env := c.next(TypeError)
		var p ErrorPayload
		if err := json.Unmarshal(env.Payload, &p); err != nil || p.Code != tt.code || env.ID != tt.id || p.Ref != tt.id {
			t.Errorf("%s: error id %q payload %s, want code %s with id and ref %q", tt.code, env.ID, env.Payload, tt.code, tt.id)
		}
	}
}

func TestFloodIsRateLimited(t *testing.T) {
	h := newTestHub(t, hubOpts{cfg: func(c *Config) { c.RateBurst, c.RatePerSecond = 5, 1 }})
	flood := join(t, h, claims("flood", true, false))
	calm := join(t, h, claims("calm", true, false))
	start := time.Now()
	for i := 0; i < 50; i++ {
		flood.send(TypeChatSend, fmt.Sprint("f", i), chatSend{Text: "spam"})
	}
	elapsed := time.Since(start)
	// The room handles commands in order, so once calm's message is acked the room has
	// answered the flood; a marker queued after that arrives after all those answers.
	calm.send(TypeChatSend, "c", chatSend{Text: "unaffected"})
	calm.wantAck("c")
	flood.conn.reply("marker", "", nil)
	flood.next("marker")
	var limited, acks int
	for _, e := range flood.drain() {
		switch {
		case e.Type == TypeError && payloadOf(t, e)["code"] == CodeRateLimited:
			limited++
		case e.Type == TypeAck:
			acks++
		}
	}
	// The burst passes (chat's own burst is 5 too), the rest is refused, and refusals
	// are answered at most once a second so a flood is not echoed back.
	if acks < 5 || acks > 5+int(elapsed.Seconds())+1 {
		t.Fatalf("%d of 50 flooded messages accepted, want about the burst of 5", acks)
	}
	if limited < 1 || limited > 1+int(elapsed.Seconds()) {
		t.Fatalf("%d rate_limited answers in %v, want one per second", limited, elapsed)
	}
}

func TestJoinValidatesRoom(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	for _, name := range []string{"", "a b", strings.Repeat("x", 65), "room/1"} {
		if _, err := h.Join(name, nil, newFake(false)); err == nil {
			t.Errorf("room %q accepted", name)
		}
	}
	h.Close()
	if _, err := h.Join(room1, nil, newFake(false)); err == nil {
		t.Fatal("join after close")
	}
}

// TestBigRoomStateOnJoin: a room whose state is larger than the send queue still gets
// it all to a joiner, who is not mistaken for a slow reader.
func TestBigRoomStateOnJoin(t *testing.T) {
	h := newTestHub(t, hubOpts{cfg: func(c *Config) { c.SendQueue, c.RateBurst, c.RatePerSecond = 8, 1000, 1000 }})
	host := join(t, h, claims("host", true, true))
	const lots = 100 // SendQueue 8 + 64 slack < 100
	for i := 0; i < lots; i++ {
		id := fmt.Sprint("lot", i)
		host.send(TypeAuctionOpen, id, auctionOpen{LotID: id, StartPrice: 1, Increment: 1, DurationMs: 60_000})
		host.wantAck(id)
	}
	late := join(t, h, claims("late", true, false))
	for i := 0; i < lots; i++ {
		late.next(TypeAuctionState)
	}
	late.send(TypeChatSend, "c", chatSend{Text: "still connected"})
	late.wantAck("c")
}

// TestIdleRoomRetiresAndComesBack: a room nobody is in is dropped after RoomIdle, and a
// new join rebuilds it from the bus (lots, chat history), with in-memory polls gone.
func TestIdleRoomRetiresAndComesBack(t *testing.T) {
	h := newTestHub(t, hubOpts{cfg: func(c *Config) { c.RoomIdle = time.Second }})
	host := join(t, h, claims("host", true, true))
	openLot(t, host, "lot", 600_000)
	host.send(TypeChatSend, "c", chatSend{Text: "remember me"})
	host.wantAck("c")
	host.conn.Close()
	for i := 0; i < 100 && h.Rooms() > 0; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if h.Rooms() != 0 {
		t.Fatal("the empty room did not retire within 5s of a 1s RoomIdle")
	}
	back := join(t, h, claims("back", true, false))
	hist := back.next(TypeChatHistory)
	if msgs := payloadOf(t, hist)["messages"].([]any); len(msgs) != 1 {
		t.Fatalf("history after the room came back: %s", hist.Payload)
	}
	back.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "lot" && p["open"] == true })
}

// TestCloseBeforeJoinIsHandled: a connection that closes before the room has handled its
// join is not left on the room's list (it would count as a viewer forever).
func TestCloseBeforeJoinIsHandled(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	watcher := join(t, h, nil)
	for i := 0; i < 20; i++ {
		c, err := h.Join(room1, nil, newFake(false))
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	watcher.send(TypeSync, "s", nil) // handled after every join above
	watcher.wantAck("s")
	if n := len(watcher.conn.room.connList()); n != 1 {
		t.Fatalf("%d connections on the room's list, want 1", n)
	}
}

func TestJoinLimits(t *testing.T) {
	h := newTestHub(t, hubOpts{cfg: func(c *Config) { c.MaxConns, c.MaxRooms = 2, 1 }})
	a := join(t, h, nil)
	if _, err := h.Join("other", nil, newFake(false)); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("second room: %v", err)
	}
	join(t, h, nil)
	if _, err := h.Join(room1, nil, newFake(false)); !errors.Is(err, ErrTooManyConns) {
		t.Fatalf("third connection: %v", err)
	}
	a.conn.Close()
	join(t, h, nil) // room for one again
}

// TestExpiredTokenOnlyReceives: once the token a connection joined with expires, it
// keeps receiving but may no longer send.
func TestExpiredTokenOnlyReceives(t *testing.T) {
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	h := newTestHub(t, hubOpts{opts: Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }}})
	cl := claims("alice", true, false)
	cl.ExpiresAt = now.Add(time.Minute)
	alice := join(t, h, cl)
	bob := join(t, h, claims("bob", true, false))
	alice.send(TypeChatSend, "1", chatSend{Text: "before"})
	alice.wantAck("1")
	clock.Store(now.Add(2 * time.Minute).UnixNano())
	alice.send(TypeChatSend, "2", chatSend{Text: "after"})
	alice.wantError("2", CodeForbidden)
	bob.send(TypeChatSend, "3", chatSend{Text: "still reaches alice"})
	bob.wantAck("3")
	alice.nextWhere(TypeChatMessage, func(p map[string]any) bool { return p["text"] == "still reaches alice" })
}

// TestTokenLeewayAppliesToSends: a token inside the verifier's leeway may join, so it may
// also send; only past expiry plus leeway is it refused, as the verifier would refuse it.
func TestTokenLeewayAppliesToSends(t *testing.T) {
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	h := newTestHub(t, hubOpts{opts: Options{TokenLeeway: 10 * time.Second, Now: func() time.Time { return time.Unix(0, clock.Load()) }}})
	cl := claims("alice", true, false)
	cl.ExpiresAt = now.Add(-5 * time.Second) // expired, but within the leeway: the verifier let it join
	alice := join(t, h, cl)
	alice.send(TypeChatSend, "1", chatSend{Text: "within the leeway"})
	alice.wantAck("1")
	clock.Store(now.Add(6 * time.Second).UnixNano()) // 11s past exp
	alice.send(TypeChatSend, "2", chatSend{Text: "past the leeway"})
	alice.wantError("2", CodeForbidden)
}

// TestGarbageFloodIsRateLimited: malformed messages count against the sender's rate, so
// a flood of them gets a few errors, not one per message, and the sender stays connected.
func TestGarbageFloodIsRateLimited(t *testing.T) {
	h := newTestHub(t, hubOpts{cfg: func(c *Config) { c.RateBurst, c.RatePerSecond, c.SendQueue = 5, 1, 16 }})
	m := join(t, h, claims("m", true, false))
	start := time.Now()
	for i := 0; i < 500; i++ {
		m.raw([]byte(`{"v":1,"type":`))
	}
	elapsed := time.Since(start)
	m.conn.reply("marker", "", nil) // Receive answered garbage synchronously: the marker comes after
	m.next("marker")
	errs := 0
	for _, e := range m.drain() {
		if e.Type == TypeError {
			errs++
		}
	}
	if errs > 5+1+int(elapsed.Seconds())+1 {
		t.Fatalf("%d errors for 500 malformed messages in %v", errs, elapsed)
	}
	select {
	case <-m.conn.Done():
		t.Fatal("the connection was closed")
	default:
	}
}

// TestCloseReachesJoinsInFlight: Close closes connections whose join the room has not
// handled yet, so no writer goroutine outlives the hub (goleak checks).
func TestCloseReachesJoinsInFlight(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	var conns []*Conn
	for i := 0; i < 50; i++ {
		c, err := h.Join(room1, nil, newFake(false))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	h.Close()
	for _, c := range conns {
		select {
		case <-c.Done():
		default:
			t.Fatal("a connection outlived the hub")
		}
	}
}
