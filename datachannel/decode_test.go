package datachannel

import (
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	const limit = 256
	tests := []struct {
		name, in string
		want     error
	}{
		{"minimal", `{"v":1,"type":"ping"}`, nil},
		{"full", `{"v":1,"type":"chat.send","id":"c1","room":"show","from":"alice","mediaTime":5,"payload":{"text":"hi"}}`, nil},
		{"too large", `{"v":1,"type":"chat.send","payload":{"text":"` + strings.Repeat("x", limit) + `"}}`, ErrTooLarge},
		{"not json", `hello`, ErrBadJSON},
		{"array", `[1,2]`, ErrBadJSON},
		{"truncated", `{"v":1,"type":`, ErrBadJSON},
		{"trailing", `{"v":1,"type":"ping"} {}`, ErrBadJSON},
		{"unknown field", `{"v":1,"type":"ping","admin":true}`, ErrBadJSON},
		{"wrong field type", `{"v":"1","type":"ping"}`, ErrBadJSON},
		{"no version", `{"type":"ping"}`, ErrBadVersion},
		{"version 2", `{"v":2,"type":"ping"}`, ErrBadVersion},
		{"unknown type", `{"v":1,"type":"chat.nuke"}`, ErrUnknownType},
		{"server type", `{"v":1,"type":"auction.closed"}`, ErrUnknownType},
		{"empty type", `{"v":1}`, ErrUnknownType},
		{"forged from", `{"v":1,"type":"chat.send","from":"bob"}`, ErrForgedFrom},
		{"forged from other case key", `{"v":1,"type":"chat.send","FROM":"bob"}`, ErrForgedFrom},
		{"other room", `{"v":1,"type":"ping","room":"other"}`, ErrWrongRoom},
		{"client seq", `{"v":1,"type":"ping","seq":7}`, ErrBadPayload},
		{"negative mediaTime", `{"v":1,"type":"ping","mediaTime":-1}`, ErrBadPayload},
		{"long id", `{"v":1,"type":"ping","id":"` + strings.Repeat("i", MaxIDLen+1) + `"}`, ErrBadPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Decode([]byte(tt.in), limit, "show", "alice")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if env == nil {
				t.Fatal("nil envelope")
			}
			if err == nil && (env.From != "alice" || env.Room != "show") {
				t.Fatalf("from/room = %q/%q, want the connection's", env.From, env.Room)
			}
			if err != nil && codeOf(err) == CodeInternal {
				t.Fatalf("decoder error %v maps to the internal code", err)
			}
		})
	}
}

// TestDecodeRefusalKeepsID checks that a message refused as too large or as bad JSON still
// yields its id where it can be read, so the error answers it (docs/PROTOCOL.md, Errors).
func TestDecodeRefusalKeepsID(t *testing.T) {
	const limit = 256
	big := `"payload":{"text":"` + strings.Repeat("x", limit) + `"}`
	tests := []struct {
		name, in, id string
		want         error
	}{
		{"unknown field", `{"v":1,"type":"ping","id":"u1","admin":true}`, "u1", ErrBadJSON},
		{"unknown field first", `{"admin":true,"v":1,"type":"ping","id":"u2"}`, "u2", ErrBadJSON},
		{"wrong field type", `{"v":"1","type":"ping","id":"u3"}`, "u3", ErrBadJSON},
		{"trailing data", `{"v":1,"type":"ping","id":"u4"} {}`, "u4", ErrBadJSON},
		{"unknown field, long id", `{"v":1,"id":"` + strings.Repeat("i", MaxIDLen+1) + `","x":1}`, "", ErrBadJSON},
		{"syntax error", `{"v":1,"type":"ping","id":"u5",`, "", ErrBadJSON},
		{"too large", `{"v":1,"type":"chat.send","id":"big1",` + big + `}`, "big1", ErrTooLarge},
		{"too large, key case and escapes", `{"v":1,"I\u0044":"big2",` + big + `}`, "big2", ErrTooLarge},
		{"too large, last id wins", `{"id":"old","v":1,"id":"big3",` + big + `}`, "big3", ErrTooLarge},
		{"too large, id in the window after the payload", `{"v":1,` + big + `,"id":"late"}`, "late", ErrTooLarge},
		{"too large, id past the window after the payload", `{"v":1,"payload":{"text":"` + strings.Repeat("x", idPeekBytes) + `"},"id":"far"}`, "", ErrTooLarge},
		{"too large, id only nested", `{"v":1,"payload":{"id":"inner","text":"` + strings.Repeat("x", limit) + `"}}`, "", ErrTooLarge},
		{"too large, id not a string", `{"v":1,"id":7,` + big + `}`, "", ErrTooLarge},
		{"too large, long id", `{"v":1,"id":"` + strings.Repeat("i", MaxIDLen+1) + `",` + big + `}`, "", ErrTooLarge},
		{"too large, id past the window", `{"v":1,"room":"` + strings.Repeat("r", idPeekBytes) + `","id":"far"}`, "", ErrTooLarge},
		{"too large, not JSON", strings.Repeat("{", limit+1), "", ErrTooLarge},
		{"too large, an array", `["id","a",` + big + `]`, "", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Decode([]byte(tt.in), limit, "show", "alice")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if env.ID != tt.id {
				t.Fatalf("id = %q, want %q", env.ID, tt.id)
			}
		})
	}
}

func TestDecodeAnonymousCannotClaimIdentity(t *testing.T) {
	_, err := Decode([]byte(`{"v":1,"type":"ping","from":"host"}`), 100, "show", "")
	if !errors.Is(err, ErrForgedFrom) {
		t.Fatalf("err = %v, want ErrForgedFrom", err)
	}
}

func TestDecodePayload(t *testing.T) {
	var p struct {
		Text string `json:"text"`
	}
	for in, want := range map[string]error{
		`{"text":"hi"}`:        nil,
		``:                     nil,
		`null`:                 nil,
		`{"text":1}`:           ErrBadPayload,
		`{"text":"a","x":1}`:   ErrBadPayload,
		`"just a string"`:      ErrBadPayload,
		`{"text":"a"} {"x":1}`: ErrBadPayload,
	} {
		err := DecodePayload(&Envelope{Type: "chat.send", Payload: []byte(in)}, &p)
		if !errors.Is(err, want) {
			t.Errorf("%q: err = %v, want %v", in, err, want)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	out, err := Encode(&Envelope{Type: TypePing, ID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(out, 1024, "r", "")
	if err != nil || env.ID != "x" {
		t.Fatalf("round trip: %v %+v", err, env)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"ping"}`,
		`{"v":1,"type":"auction.bid","id":"b","mediaTime":12,"payload":{"lotId":"l","bidId":"x","amount":100}}`,
		`{"v":1,"type":"chat.send","from":"alice","payload":{"text":"hi"}}`,
		`{"v":2}`, `[]`, `{"v":1,"type":"chat.send","payload":{}} x`,
		`{"v":1,"type":"ping","id":"u","admin":true}`,
		`{"v":1,"type":"chat.send","id":"big","payload":{"text":"` + strings.Repeat("x", 600) + `"}}`,
		`{"iD":"a","v":1,"type":"ping","Id":null,"id":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Decode(data, 512, "show", "alice")
		if env == nil {
			t.Fatal("nil envelope")
		}
		checkTooLarge(t, data, env, err)
		if len(env.ID) > MaxIDLen {
			t.Fatalf("an id of %d bytes came back", len(env.ID))
		}
		if err != nil {
			if codeOf(err) == CodeInternal {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if len(data) > 512 || env.V != Version || !IsClientType(env.Type) || env.From != "alice" || env.Room != "show" {
			t.Fatalf("accepted a bad envelope: %+v", env)
		}
		if _, err := Encode(env); err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}

// checkTooLarge decodes data again with a limit it exceeds, so every fuzz input goes
// through the id scan of an oversized message. The scan must find the id a full decode
// found (env, err) whenever the whole message lies in its window, and never anything
// longer than an id may be.
func checkTooLarge(t *testing.T, data []byte, env *Envelope, err error) {
	t.Helper()
	big, bigErr := Decode(data, len(data)-1, "show", "alice")
	if !errors.Is(bigErr, ErrTooLarge) || big == nil || len(big.ID) > MaxIDLen {
		t.Fatalf("too large: %+v %v", big, bigErr)
	}
	if err == nil && len(data) <= idPeekBytes && big.ID != env.ID {
		t.Fatalf("the scan read id %q, the decoder %q", big.ID, env.ID)
	}
}
