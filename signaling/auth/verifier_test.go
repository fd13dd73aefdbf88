package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	v := testVerifier(t)
	before := time.Now()
	tok := mustIssue(t, TokenOptions{Room: "show", Identity: "alice", Name: "Alice", Publish: true, Data: true, TTL: time.Hour})
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{Identity: "alice", Name: "Alice", Room: "show", RoomJoin: true, CanPublish: true, CanPublishData: true}
	got := *c
	got.ExpiresAt = time.Time{}
	if got != want {
		t.Errorf("claims %+v, want %+v", got, want)
	}
	// exp has one-second resolution.
	if exp := c.ExpiresAt; exp.Before(before.Add(time.Hour-time.Second)) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("ExpiresAt %v, want about an hour from now", exp)
	}
}

func TestVerifyRejects(t *testing.T) {
	v := testVerifier(t)
	now := time.Now()
	good := mustIssue(t, TokenOptions{Publish: true})
	parts := strings.Split(good, ".")

	// Same signature over a payload naming another room.
	forged := stdClaims(now.Add(time.Hour))
	forged["video"] = map[string]any{"roomJoin": true, "room": "other", "roomAdmin": true}
	tampered := parts[0] + "." + strings.Split(signJWT(t, "HS256", "x", forged), ".")[1] + "." + parts[2]

	noExp := stdClaims(now)
	delete(noExp, "exp")
	future := stdClaims(now.Add(time.Hour))
	future["nbf"] = now.Add(5 * time.Minute).Unix()
	noIssuer := stdClaims(now.Add(time.Hour))
	delete(noIssuer, "iss")

	cases := []struct {
		name, token string
		want        error
		msg         string
	}{
		{"empty", "", ErrMissingToken, "missing"},
		{"garbage", "abc.def.ghi", ErrInvalidToken, "invalid"},
		{"not a JWT", "hello", ErrInvalidToken, "invalid"},
		{"too long", strings.Repeat("a", MaxTokenLen+1), ErrInvalidToken, "longer than"},
		{"wrong secret", signJWT(t, "HS256", "not-the-secret", stdClaims(now.Add(time.Hour))), ErrInvalidToken, "signature"},
		{"unknown key", mustIssueWith(t, "APIunknown", testSecret), ErrInvalidToken, "unknown API key"},
		{"no issuer", signJWT(t, "HS256", testSecret, noIssuer), ErrInvalidToken, "unknown API key"},
		{"tampered payload", tampered, ErrInvalidToken, "signature"},
		{"truncated signature", good[:len(good)-4], ErrInvalidToken, "invalid"},
		{"expired", signJWT(t, "HS256", testSecret, stdClaims(now.Add(-2*time.Minute))), ErrInvalidToken, "expired"},
		{"not yet valid", signJWT(t, "HS256", testSecret, future), ErrInvalidToken, "not valid yet"},
		{"no exp", signJWT(t, "HS256", testSecret, noExp), ErrInvalidToken, "exp"},
		{"alg none", signJWT(t, "none", "", stdClaims(now.Add(time.Hour))), ErrInvalidToken, "invalid"},
		{"other key's secret", signJWT(t, "HS256", "other-secret", stdClaims(now.Add(time.Hour))), ErrInvalidToken, "signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims, err := v.Verify(c.token)
			if !errors.Is(err, c.want) || claims != nil {
				t.Fatalf("Verify = %+v, %v; want nil, %v", claims, err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
			if strings.Contains(err.Error(), testSecret+"\"") || strings.Contains(err.Error(), "other-secret") {
				t.Errorf("error %q leaks a secret", err)
			}
		})
	}
}

func mustIssueWith(t *testing.T, key, secret string) string {
	t.Helper()
	tok, err := Issue(key, secret, TokenOptions{Room: "show", Identity: "alice", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Finding 10: livekit's minute of leeway let a token work a minute past its expiry. The
// default leeway is shorter, and the setting moves it both ways (exp and nbf).
func TestVerifyLeeway(t *testing.T) {
	now := time.Now()
	expired20s := signJWT(t, "HS256", testSecret, stdClaims(now.Add(-20*time.Second)))
	early := stdClaims(now.Add(time.Hour))
	early["nbf"] = now.Add(20 * time.Second).Unix()
	notYet20s := signJWT(t, "HS256", testSecret, early)

	def := testVerifier(t)
	for name, tok := range map[string]string{"expired 20s ago": expired20s, "valid in 20s": notYet20s} {
		if _, err := def.Verify(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("default leeway, token %s: err = %v, want ErrInvalidToken", name, err)
		}
	}
	if _, err := def.Verify(signJWT(t, "HS256", testSecret, stdClaims(now.Add(-3*time.Second)))); err != nil {
		t.Errorf("default leeway, token expired 3s ago: %v", err)
	}

	loose, err := NewVerifierConfig(Config{TokenLeeway: 30 * time.Second}, map[string]string{testKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"expired 20s ago": expired20s, "valid in 20s": notYet20s} {
		if _, err := loose.Verify(tok); err != nil {
			t.Errorf("30s leeway, token %s: %v", name, err)
		}
	}
	strict, err := NewVerifierConfig(Config{}, map[string]string{testKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Verify(signJWT(t, "HS256", testSecret, stdClaims(now.Add(-2*time.Second)))); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("no leeway, token expired 2s ago: err = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, time.Minute + time.Second} {
		if err := (Config{TokenLeeway: d}).Validate(); err == nil {
			t.Errorf("token_leeway %v accepted", d)
		}
		if _, err := NewVerifierConfig(Config{TokenLeeway: d}, map[string]string{"k": "s"}); err == nil {
			t.Errorf("NewVerifierConfig took token_leeway %v", d)
		}
	}
	for _, d := range []time.Duration{0, DefaultConfig().TokenLeeway, time.Minute} {
		if err := (Config{TokenLeeway: d}).Validate(); err != nil {
			t.Errorf("token_leeway %v: %v", d, err)
		}
	}
}

// A token made by LiveKit's own tooling, leaving canPublish etc. unset, works as LiveKit
// would treat it: everything but admin allowed, and canPublishData follows canPublish.
func TestVerifyLiveKitToken(t *testing.T) {
	v := testVerifier(t)
	f := false
	cases := []struct {
		name  string
		grant lkauth.VideoGrant
		want  Claims
	}{
		{"defaults", lkauth.VideoGrant{RoomJoin: true, Room: "show"},
			Claims{Identity: "bob", Name: "Bob", Room: "show", RoomJoin: true, CanPublish: true, CanSubscribe: true, CanPublishData: true}},
		{"canPublish false", lkauth.VideoGrant{RoomJoin: true, Room: "show", CanPublish: &f},
			Claims{Identity: "bob", Name: "Bob", Room: "show", RoomJoin: true, CanSubscribe: true}},
		{"admin", lkauth.VideoGrant{RoomAdmin: true, Room: "show"},
			Claims{Identity: "bob", Name: "Bob", Room: "show", RoomAdmin: true, CanPublish: true, CanSubscribe: true, CanPublishData: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := lkauth.NewAccessToken(testKey, testSecret).
				SetIdentity("bob").SetName("Bob").SetVideoGrant(&c.grant).ToJWT()
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			got.ExpiresAt = time.Time{}
			if *got != c.want {
				t.Errorf("claims %+v, want %+v", *got, c.want)
			}
		})
	}
	t.Run("no video grant", func(t *testing.T) {
		tok, err := lkauth.NewAccessToken(testKey, testSecret).SetIdentity("bob").ToJWT()
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []Permission{PermPublish, PermSubscribe, PermPublishData, PermAdmin} {
			if err := c.Allow("show", p); !errors.Is(err, ErrForbidden) {
				t.Errorf("Allow(%v) = %v, want ErrForbidden", p, err)
			}
		}
	})
}

func TestNewVerifier(t *testing.T) {
	cases := []struct {
		name string
		keys map[string]string
		ok   bool
	}{
		{"nil", nil, false},
		{"empty", map[string]string{}, false},
		{"empty key", map[string]string{"": "secret"}, false},
		{"empty secret", map[string]string{"k": ""}, false},
		{"short dev secret", map[string]string{"k": "secret"}, true},
		{"two keys", map[string]string{"a": "x", "b": "y"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := NewVerifier(c.keys)
			if (err == nil) != c.ok || (v != nil) != c.ok {
				t.Fatalf("NewVerifier = %v, %v; want ok=%v", v, err, c.ok)
			}
		})
	}
}

// The verifier copies its keys, so a caller's later edits cannot change or race with it.
func TestNewVerifierCopiesKeys(t *testing.T) {
	keys := map[string]string{testKey: testSecret}
	v, err := NewVerifier(keys)
	if err != nil {
		t.Fatal(err)
	}
	delete(keys, testKey)
	if _, err := v.Verify(mustIssue(t, TokenOptions{})); err != nil {
		t.Fatal(err)
	}
}

// TestVerifiedTokenCacheStillExpires: a token served from the verified-token cache is
// refused once it expires, like one verified afresh; and the cache hands out copies.
func TestVerifiedTokenCacheStillExpires(t *testing.T) {
	v, err := NewVerifierConfig(Config{TokenLeeway: 0}, map[string]string{testKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	tok := mustIssue(t, TokenOptions{Room: "show", Identity: "alice", Subscribe: true, TTL: 2 * time.Second})
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	c.Room = "mutated"
	again, err := v.Verify(tok) // from the cache
	if err != nil || again.Room != "show" {
		t.Fatalf("cached verify: %+v, %v; want room show", again, err)
	}
	time.Sleep(time.Until(c.ExpiresAt) + 100*time.Millisecond)
	if _, err := v.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("expired cached token: %v, want ErrInvalidToken", err)
	}
}
