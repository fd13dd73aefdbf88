package auth

import (
	"fmt"
	"net/http"
	"strings"
)

// BearerToken returns the access token a request carries.
//
// The usual place is the header "Authorization: Bearer <token>" (scheme case-insensitive,
// RFC 6750 §2.1). Browsers cannot set headers on EventSource or WebSocket, so a request
// without an Authorization header may instead carry the token in the "access_token" query
// parameter (RFC 6750 §2.3; LiveKit's SDKs do the same for their WebSocket). Query strings
// end up in access logs and browser history, so clients should prefer the header and use
// short-lived tokens in URLs.
//
// No token at all is ErrMissingToken (an empty Authorization header counts as absent). An
// Authorization header that is present but not a single Bearer credential is
// ErrInvalidToken, and the query is not consulted then: a request that tried to
// authenticate one way must not silently fall back to another.
func BearerToken(r *http.Request) (string, error) {
	if r == nil {
		return "", ErrMissingToken
	}
	switch values := r.Header.Values("Authorization"); {
	case len(values) > 1:
		return "", fmt.Errorf("%w: more than one Authorization header", ErrInvalidToken)
	case len(values) == 1 && strings.TrimSpace(values[0]) != "":
		return fromHeader(values[0])
	}
	if r.URL == nil {
		return "", ErrMissingToken
	}
	q := r.URL.Query()["access_token"]
	if len(q) > 1 {
		return "", fmt.Errorf("%w: more than one access_token parameter", ErrInvalidToken)
	}
	if len(q) == 0 || strings.TrimSpace(q[0]) == "" {
		return "", ErrMissingToken
	}
	return strings.TrimSpace(q[0]), nil
}

func fromHeader(h string) (string, error) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: Authorization scheme must be Bearer", ErrInvalidToken)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", ErrMissingToken
	}
	// A token never contains whitespace; a space here means a mangled header.
	if strings.ContainsAny(token, " \t") {
		return "", fmt.Errorf("%w: malformed Authorization header", ErrInvalidToken)
	}
	return token, nil
}
