package auth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: untrusted tokens never panic, and always yield claims or one of our 401 errors.
func FuzzVerify(f *testing.F) {
	v := testVerifier(f)
	good := mustIssue(f, TokenOptions{Publish: true, Subscribe: true})
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add(signJWT(f, "HS256", "wrong", stdClaims(time.Now().Add(time.Hour))))
	f.Add(signJWT(f, "none", "", stdClaims(time.Now().Add(time.Hour))))
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(token)
		switch {
		case err == nil && c == nil:
			t.Fatal("nil claims and nil error")
		case err != nil && c != nil:
			t.Fatalf("claims %+v with error %v", c, err)
		case err != nil && !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrMissingToken):
			t.Fatalf("error %v wraps neither ErrInvalidToken nor ErrMissingToken", err)
		case err == nil:
			// Only a correctly signed token gets here; its checks must not panic either.
			_ = c.Allow(c.Room, PermPublish)
		}
	})
}

// FuzzBearerToken: any header value and query string is parsed without panicking, and a
// returned token is never empty and never carries surrounding whitespace.
func FuzzBearerToken(f *testing.F) {
	f.Add("Bearer abc", "")
	f.Add("bearer  abc ", "access_token=q")
	f.Add("", "access_token=q&access_token=r")
	f.Add("Basic x", "")
	f.Add("Bearer", "%zz")
	f.Fuzz(func(t *testing.T, header, rawQuery string) {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{Path: "/", RawQuery: rawQuery}}
		if header != "" {
			r.Header["Authorization"] = []string{header}
		}
		tok, err := BearerToken(r)
		if err != nil {
			if tok != "" {
				t.Fatalf("token %q with error %v", tok, err)
			}
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrMissingToken) {
				t.Fatalf("error %v wraps neither ErrInvalidToken nor ErrMissingToken", err)
			}
			return
		}
		if tok == "" || tok != strings.TrimSpace(tok) {
			t.Fatalf("bad token %q", tok)
		}
	})
}
