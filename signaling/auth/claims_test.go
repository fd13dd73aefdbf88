package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestAllow(t *testing.T) {
	all := Claims{Identity: "alice", Room: "show", RoomJoin: true, CanPublish: true, CanSubscribe: true, CanPublishData: true}
	with := func(edit func(*Claims)) *Claims {
		c := all
		edit(&c)
		return &c
	}
	cases := []struct {
		name   string
		claims *Claims
		room   string
		perm   Permission
		reason string // "" means allowed
	}{
		{"publish", &all, "show", PermPublish, ""},
		{"subscribe", &all, "show", PermSubscribe, ""},
		{"data", &all, "show", PermPublishData, ""},
		{"admin needs roomAdmin", &all, "show", PermAdmin, "token lacks roomAdmin"},
		{"no canPublish", with(func(c *Claims) { c.CanPublish = false }), "show", PermPublish, "token lacks canPublish"},
		{"no canSubscribe", with(func(c *Claims) { c.CanSubscribe = false }), "show", PermSubscribe, "token lacks canSubscribe"},
		{"no canPublishData", with(func(c *Claims) { c.CanPublishData = false }), "show", PermPublishData, "token lacks canPublishData"},
		{"other room", &all, "other", PermSubscribe, `token is for room "show", not "other"`},
		{"no room in grant", with(func(c *Claims) { c.Room = "" }), "show", PermSubscribe, "token names no room"},
		{"no room in grant or request", with(func(c *Claims) { c.Room = "" }), "", PermSubscribe, "token names no room"},
		{"no roomJoin", with(func(c *Claims) { c.RoomJoin = false }), "show", PermPublish, "token lacks roomJoin"},
		{"no identity", with(func(c *Claims) { c.Identity = "" }), "show", PermPublish, "token has no identity"},
		{"admin implies publish", &Claims{Room: "show", RoomAdmin: true}, "show", PermPublish, ""},
		{"admin implies subscribe", &Claims{Room: "show", RoomAdmin: true}, "show", PermSubscribe, ""},
		{"admin implies data", &Claims{Room: "show", RoomAdmin: true}, "show", PermPublishData, ""},
		{"admin", &Claims{Room: "show", RoomAdmin: true}, "show", PermAdmin, ""},
		{"admin of another room", &Claims{Room: "show", RoomAdmin: true}, "other", PermAdmin, "not \"other\""},
		{"admin without room", &Claims{RoomAdmin: true}, "show", PermAdmin, "token names no room"},
		{"unknown permission", &all, "show", Permission(0), "unknown permission"},
		{"nil claims", nil, "show", PermSubscribe, "no claims"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.claims.Allow(c.room, c.perm)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("Allow = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrForbidden) {
				t.Fatalf("Allow = %v, want ErrForbidden", err)
			}
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("error %q does not say %q", err, c.reason)
			}
		})
	}
}

// Each permission Issue leaves out is refused after a full issue→verify trip.
func TestIssuedPermissions(t *testing.T) {
	v := testVerifier(t)
	cases := []struct {
		name string
		o    TokenOptions
		ok   map[Permission]bool
	}{
		{"none", TokenOptions{}, map[Permission]bool{}},
		{"publish", TokenOptions{Publish: true}, map[Permission]bool{PermPublish: true}},
		{"subscribe", TokenOptions{Subscribe: true}, map[Permission]bool{PermSubscribe: true}},
		{"data", TokenOptions{Data: true}, map[Permission]bool{PermPublishData: true}},
		{"viewer with chat", TokenOptions{Subscribe: true, Data: true}, map[Permission]bool{PermSubscribe: true, PermPublishData: true}},
		{"admin", TokenOptions{Admin: true}, map[Permission]bool{PermPublish: true, PermSubscribe: true, PermPublishData: true, PermAdmin: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims, err := v.Verify(mustIssue(t, c.o))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []Permission{PermPublish, PermSubscribe, PermPublishData, PermAdmin} {
				err := claims.Allow("show", p)
				if c.ok[p] != (err == nil) {
					t.Errorf("Allow(%v) = %v, want allowed=%v", p, err, c.ok[p])
				}
				if err != nil && !errors.Is(err, ErrForbidden) {
					t.Errorf("Allow(%v) = %v, want ErrForbidden", p, err)
				}
				if err := claims.Allow("other", p); !errors.Is(err, ErrForbidden) {
					t.Errorf("Allow(other, %v) = %v, want ErrForbidden", p, err)
				}
			}
		})
	}
}

func TestPermissionString(t *testing.T) {
	for p, want := range map[Permission]string{
		PermPublish: "canPublish", PermSubscribe: "canSubscribe", PermPublishData: "canPublishData",
		PermAdmin: "roomAdmin", Permission(0): "Permission(0)", Permission(9): "Permission(9)",
	} {
		if got := p.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(p), got, want)
		}
	}
}
