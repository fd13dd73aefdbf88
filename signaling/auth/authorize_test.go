package auth

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestAuthorize(t *testing.T) {
	v := testVerifier(t)
	sub := mustIssue(t, TokenOptions{Subscribe: true})
	data := mustIssue(t, TokenOptions{Data: true})
	cases := []struct {
		name, token string
		anonymous   bool
		perms       []Permission
		want        error // nil: allowed
		anon        bool  // allowed with nil claims
	}{
		{"granted", sub, false, []Permission{PermSubscribe}, nil, false},
		{"any of", data, false, []Permission{PermSubscribe, PermPublishData}, nil, false},
		{"none of", data, false, []Permission{PermSubscribe, PermPublish}, ErrForbidden, false},
		{"no perms asked", sub, false, nil, ErrForbidden, false},
		{"missing", "", false, []Permission{PermSubscribe}, ErrMissingToken, false},
		{"missing, anonymous allowed", "", true, []Permission{PermSubscribe}, nil, true},
		{"bad token, anonymous allowed", "x.y.z", true, []Permission{PermSubscribe}, ErrInvalidToken, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "http://glint/ws/show", nil)
			if c.token != "" {
				r.Header.Set("Authorization", "Bearer "+c.token)
			}
			claims, err := v.Authorize(r, "show", c.anonymous, c.perms...)
			switch {
			case c.want != nil:
				if !errors.Is(err, c.want) || claims != nil {
					t.Fatalf("Authorize = %v, %v; want %v", claims, err, c.want)
				}
			case err != nil:
				t.Fatalf("Authorize: %v", err)
			case (claims == nil) != c.anon:
				t.Fatalf("claims %v, want anonymous %v", claims, c.anon)
			}
		})
	}
	// "none of" names the first permission asked for.
	r, _ := http.NewRequest(http.MethodGet, "http://glint/ws/show", nil)
	r.Header.Set("Authorization", "Bearer "+data)
	if _, err := v.Authorize(r, "show", false, PermSubscribe, PermPublish); err == nil || !strings.Contains(err.Error(), "canSubscribe") {
		t.Errorf("err = %v, want it to name canSubscribe", err)
	}
}
