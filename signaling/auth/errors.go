package auth

import "errors"

// Sentinels the HTTP edge maps to a status. Detail is added by wrapping with %w, and the
// wrapped message is shown to clients, so it must never include a secret.
var (
	// ErrMissingToken: the request carries no token at all (401).
	ErrMissingToken = errors.New("missing access token")
	// ErrInvalidToken: the token is malformed, badly signed, signed with an unknown API key,
	// or expired (401).
	ErrInvalidToken = errors.New("invalid access token")
	// ErrForbidden: the token is valid but its grant does not allow the action (403).
	ErrForbidden = errors.New("forbidden")
)
