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
