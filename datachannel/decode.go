package datachannel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxIDLen bounds client-chosen ids (envelope id, bid ids, gift keys).
const MaxIDLen = 64

// Decode parses one client message of at most limit bytes, sent by identity (empty for an
// anonymous viewer) on a connection to room.
//
// The size is checked before any parsing. The envelope must be exactly one JSON object
// with no unknown fields, v must be [Version] and type one a client may send. From is
// always set from identity: a client may leave it out or repeat its own identity, and any
// other value is [ErrForgedFrom]. The same goes for room. The payload is left raw for the
// room to decode against the type.
//
// Every error wraps one of the package's sentinels, so [codeOf] gives its wire code. The
// returned envelope carries whatever id was read, even on error, so the error event can
// reference it.
func Decode(data []byte, limit int, room, identity string) (*Envelope, error) {
	if len(data) > limit {
		return &Envelope{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), limit)
	}
	env := &Envelope{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(env); err != nil {
		return &Envelope{}, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Envelope{}, fmt.Errorf("%w: data after the envelope", ErrBadJSON)
	}
	if len(env.ID) > MaxIDLen {
		return &Envelope{}, fmt.Errorf("%w: id longer than %d bytes", ErrBadPayload, MaxIDLen)
	}
	// encoding/json turns bytes that are not UTF-8 into U+FFFD without a word; refuse
	// them instead, answering the id as read.
	if !utf8.Valid(data) {
		return env, fmt.Errorf("%w: the message is not UTF-8", ErrBadPayload)
	}
	if env.V != Version {
		return env, fmt.Errorf("%w: v=%d, this server speaks v=%d", ErrBadVersion, env.V, Version)
	}
	if !IsClientType(env.Type) {
		return env, fmt.Errorf("%w: %q", ErrUnknownType, truncate(env.Type, 32))
	}
	if env.From != "" && env.From != identity {
		return env, fmt.Errorf("%w: from %q, token identity %q", ErrForgedFrom, truncate(env.From, 64), identity)
	}
	if env.Room != "" && env.Room != room {
		return env, fmt.Errorf("%w: %q", ErrWrongRoom, truncate(env.Room, 64))
	}
	if env.Seq != 0 {
		return env, fmt.Errorf("%w: seq is set by the server", ErrBadPayload)
	}
	if env.MediaTime < 0 {
		return env, fmt.Errorf("%w: negative mediaTime", ErrBadPayload)
	}
	env.From, env.Room = identity, room
	return env, nil
}

// DecodePayload decodes env's payload strictly into v: it must be one JSON object with no
// unknown fields. A missing payload decodes as {}.
func DecodePayload(env *Envelope, v any) error {
	p := env.Payload
	if len(p) == 0 || bytes.Equal(p, []byte("null")) {
		p = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w for %s: %v", ErrBadPayload, env.Type, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w for %s: data after the payload", ErrBadPayload, env.Type)
	}
	return nil
}

// truncate shortens client-supplied strings before they go into error messages and logs.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
