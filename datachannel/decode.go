package datachannel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxIDLen bounds client-chosen ids (envelope id, bid ids, gift keys).
const MaxIDLen = 64

// idPeekBytes is how much of an oversized message [peekID] reads: room enough for the
// envelope fields a client writes before its payload (v, type, a 64-byte id, room, from).
const idPeekBytes = 512

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
// reference it: a client matches answers by id. An oversized message gets the id
// [peekID] finds; bad JSON that is still one well-formed object (unknown or mistyped
// fields, data after it) gets the id the decoder read; a syntax error gets none.
func Decode(data []byte, limit int, room, identity string) (*Envelope, error) {
	if len(data) > limit {
		return &Envelope{ID: peekID(data)}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), limit)
	}
	env := &Envelope{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(env); err != nil {
		// encoding/json reads every field it knows before it reports an unknown or
		// mistyped one; on a syntax error it fills nothing, so the id is empty.
		return idOnly(env), fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return idOnly(env), fmt.Errorf("%w: data after the envelope", ErrBadJSON)
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

// idOnly is a refused envelope reduced to its id, the one field an error answer uses; an
// id too long to be one is dropped.
func idOnly(env *Envelope) *Envelope {
	if len(env.ID) > MaxIDLen {
		return &Envelope{}
	}
	return &Envelope{ID: env.ID}
}

// peekID reads the id of a message too large to decode, so its too_large error can
// answer it. Only the first idPeekBytes are read, token by token, so the work is bounded
// whatever the message holds. Like [Decode], it takes the last top-level key that
// matches "id" without regard to case, and a null leaves the id as it was. Where the
// window ends or the JSON breaks (usually inside the payload) it keeps what it found.
func peekID(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data[:min(len(data), idPeekBytes)]))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	id := ""
	for {
		key, err := dec.Token()
		k, isKey := key.(string)
		var v json.RawMessage
		if err != nil || !isKey || dec.Decode(&v) != nil {
			break // the object's end, the window's end, or broken JSON
		}
		if strings.EqualFold(k, "id") && json.Unmarshal(v, &id) != nil {
			id = "" // not a string: the decoder would refuse it, so no id
		}
	}
	if len(id) > MaxIDLen {
		return ""
	}
	return id
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
