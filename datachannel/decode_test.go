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
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Decode(data, 512, "show", "alice")
		if env == nil {
			t.Fatal("nil envelope")
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
