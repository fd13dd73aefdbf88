package auth

import (
	"errors"
	"fmt"
	"net/http"
)

// Authorize is the token check of every HTTP endpoint: the request's bearer token,
// verified, must allow at least one of perms in room. With anonymous set, a request that
// carries no token at all is let in with nil claims; a bad token is refused all the same,
// so a client that tried to authenticate never silently becomes anonymous.
func (v *Verifier) Authorize(r *http.Request, room string, anonymous bool, perms ...Permission) (*Claims, error) {
	claims, err := v.RequestClaims(r)
	if err != nil {
		if anonymous && errors.Is(err, ErrMissingToken) {
			return nil, nil
		}
		return nil, err
	}
	if err := claims.AllowAny(room, perms...); err != nil {
		return nil, err
	}
	return claims, nil
}

// RequestClaims verifies the request's bearer token (header or access_token parameter)
// and returns what it says, for checks Authorize does not make (roomList).
func (v *Verifier) RequestClaims(r *http.Request) (*Claims, error) {
	token, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	return v.Verify(token)
}

// AllowAny is Allow for the first of perms the claims allow in room; when none is, the
// error names the first.
func (c *Claims) AllowAny(room string, perms ...Permission) error {
	if len(perms) == 0 {
		return fmt.Errorf("%w: no permission asked for", ErrForbidden)
	}
	var first error
	for _, p := range perms {
		err := c.Allow(room, p)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// HTTPStatus is the status an authorisation error answers with: 401 for a missing or bad
// token, 403 for one without the grant, 500 for anything else.
func HTTPStatus(err error) int {
	switch {
	case errors.Is(err, ErrMissingToken), errors.Is(err, ErrInvalidToken):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}
