package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestBearerToken(t *testing.T) {
	cases := []struct {
		name    string
		headers []string // Authorization values
		target  string
		want    string
		err     error
	}{
		{"bearer", []string{"Bearer abc.def.ghi"}, "/", "abc.def.ghi", nil},
		{"lower-case scheme", []string{"bearer tok"}, "/", "tok", nil},
		{"upper-case scheme", []string{"BEARER tok"}, "/", "tok", nil},
		{"extra spaces", []string{"  Bearer   tok  "}, "/", "tok", nil},
		{"no header", nil, "/", "", ErrMissingToken},
		{"empty header", []string{""}, "/", "", ErrMissingToken},
		{"blank header", []string{"   "}, "/", "", ErrMissingToken},
		{"scheme only", []string{"Bearer"}, "/", "", ErrMissingToken},
		{"scheme and space", []string{"Bearer   "}, "/", "", ErrMissingToken},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "/", "", ErrInvalidToken},
		{"token without scheme", []string{"abc.def.ghi"}, "/", "", ErrInvalidToken},
		{"scheme prefix only", []string{"Bearerabc"}, "/", "", ErrInvalidToken},
		{"two tokens", []string{"Bearer a b"}, "/", "", ErrInvalidToken},
		{"two headers", []string{"Bearer a", "Bearer b"}, "/", "", ErrInvalidToken},
		{"query", nil, "/events?access_token=tok", "tok", nil},
		{"query empty", nil, "/events?access_token=", "", ErrMissingToken},
		{"query twice", nil, "/events?access_token=a&access_token=b", "", ErrInvalidToken},
		{"other query param", nil, "/events?token=tok", "", ErrMissingToken},
		{"header wins over query", []string{"Bearer h"}, "/?access_token=q", "h", nil},
		{"bad header does not fall back", []string{"Basic x"}, "/?access_token=q", "", ErrInvalidToken},
		{"empty header falls back", []string{""}, "/?access_token=q", "q", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, c.target, nil)
			for _, h := range c.headers {
				r.Header.Add("Authorization", h)
			}
			got, err := BearerToken(r)
			if got != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
				t.Fatalf("BearerToken = %q, %v; want %q, %v", got, err, c.want, c.err)
			}
		})
	}
	if _, err := BearerToken(nil); !errors.Is(err, ErrMissingToken) {
		t.Errorf("BearerToken(nil) = %v, want ErrMissingToken", err)
	}
}
