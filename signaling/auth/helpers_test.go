package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

const (
	testKey    = "APIdev"
	testSecret = "secret" // short on purpose: dev secrets must work
)

func testVerifier(t testing.TB) *Verifier {
	t.Helper()
	v, err := NewVerifier(map[string]string{testKey: testSecret, "APIother": "other-secret"})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustIssue(t testing.TB, o TokenOptions) string {
	t.Helper()
	if o.Room == "" {
		o.Room = "show"
	}
	if o.Identity == "" {
		o.Identity = "alice"
	}
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	tok, err := Issue(testKey, testSecret, o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signJWT hand-builds an HS256 JWT so tests can make tokens no well-behaved minter would:
// expired, not yet valid, without exp, with another alg.
func signJWT(t testing.TB, alg, secret string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	unsigned := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(claims)
	if alg == "none" {
		return unsigned + "."
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// stdClaims is a valid claim set for room "show"; tests override fields.
func stdClaims(exp time.Time) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":   testKey,
		"sub":   "alice",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   exp.Unix(),
		"video": map[string]any{"roomJoin": true, "room": "show"},
	}
}
