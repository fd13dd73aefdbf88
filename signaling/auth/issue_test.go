package auth

import (
	"strings"
	"testing"
	"time"
)

func TestIssueValidates(t *testing.T) {
	ok := TokenOptions{Room: "show", Identity: "alice", TTL: time.Hour}
	with := func(edit func(*TokenOptions)) TokenOptions {
		o := ok
		edit(&o)
		return o
	}
	cases := []struct {
		name        string
		key, secret string
		o           TokenOptions
		msg         string // "" means issued
	}{
		{"ok", testKey, testSecret, ok, ""},
		{"max TTL", testKey, testSecret, with(func(o *TokenOptions) { o.TTL = MaxTTL }), ""},
		{"no key", "", testSecret, ok, "API key"},
		{"no secret", testKey, "", ok, "secret"},
		{"no room", testKey, testSecret, with(func(o *TokenOptions) { o.Room = "" }), "room"},
		{"list only, no room", testKey, testSecret, with(func(o *TokenOptions) { o.Room, o.List = "", true }), ""},
		{"no room with a room grant", testKey, testSecret, with(func(o *TokenOptions) { o.Room, o.List, o.Subscribe = "", true, true }), "only list, create and delete rooms"},
		{"not a room name", testKey, testSecret, with(func(o *TokenOptions) { o.Room = "my show" }), "1-64 characters"},
		{"room name too long", testKey, testSecret, with(func(o *TokenOptions) { o.Room = strings.Repeat("r", 65) }), "1-64 characters"},
		{"no identity", testKey, testSecret, with(func(o *TokenOptions) { o.Identity = "" }), "identity"},
		{"zero TTL", testKey, testSecret, with(func(o *TokenOptions) { o.TTL = 0 }), "TTL"},
		{"negative TTL", testKey, testSecret, with(func(o *TokenOptions) { o.TTL = -time.Second }), "TTL"},
		{"TTL too long", testKey, testSecret, with(func(o *TokenOptions) { o.TTL = MaxTTL + time.Second }), "maximum"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := Issue(c.key, c.secret, c.o)
			if c.msg == "" {
				if err != nil || tok == "" {
					t.Fatalf("Issue = %q, %v", tok, err)
				}
				return
			}
			if err == nil || tok != "" {
				t.Fatalf("Issue = %q, %v; want an error", tok, err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

// TestRoomListGrant: roomList (LiveKit's grant) survives a round trip and is what
// AllowList checks; a list-only token allows nothing in a room, and a room's admin
// cannot list.
func TestRoomListGrant(t *testing.T) {
	v := testVerifier(t)
	tok, err := Issue(testKey, testSecret, TokenOptions{Identity: "backend", List: true, TTL: time.Hour}) // no room
	if err != nil {
		t.Fatal(err)
	}
	lister, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if lister.Room != "" || lister.RoomJoin {
		t.Errorf("a list-only token names room %q, roomJoin %v; want neither", lister.Room, lister.RoomJoin)
	}
	if err := lister.AllowList(); err != nil {
		t.Errorf("roomList token: AllowList = %v", err)
	}
	if err := lister.Allow("show", PermSubscribe); err == nil {
		t.Error("a list-only token was allowed to subscribe")
	}
	admin, err := v.Verify(mustIssue(t, TokenOptions{Room: "show", Identity: "mod", Admin: true, TTL: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.AllowList(); err == nil || !strings.Contains(err.Error(), "roomList") {
		t.Errorf("admin token: AllowList = %v; want forbidden, naming roomList", err)
	}
	if err := (*Claims)(nil).AllowList(); err == nil {
		t.Error("nil claims may list")
	}
}
