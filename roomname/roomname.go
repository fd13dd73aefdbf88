// Package roomname says what a room name may be, for every part of Glint that takes one
// (the SFU, the interaction layer, LL-HLS, RTMP stream keys and app names, the room API):
// one rule, so a name one part accepts is never refused by another.
package roomname

import "errors"

// ErrInvalid is the one error for a name that is not Valid, whichever part refused it
// (the SFU, the interaction layer, RTMP, the HTTP edge), so callers test for one sentinel.
var ErrInvalid = errors.New("invalid room name (" + Rule + ")")

// Rule is the rule in words, for error messages.
const Rule = "1-64 characters of [A-Za-z0-9_.-]"

// MaxLen is the longest name, in bytes (every allowed character is one byte).
const MaxLen = 64

// Valid reports whether s may be used as a room name: 1 to 64 characters of A-Z, a-z,
// 0-9, '_', '.' and '-'. Names appear in URL paths, NATS subjects and file names, so
// nothing else is allowed.
func Valid(s string) bool {
	if len(s) == 0 || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
