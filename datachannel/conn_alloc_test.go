package datachannel

import (
	"testing"
)

// discardTransport takes every message and keeps none.
type discardTransport struct{}

func (discardTransport) Write([]byte) error { return nil }
func (discardTransport) Close() error       { return nil }

// TestReceiveAllocatesNoSpareEnvelope: a text message costs what decoding it and encoding
// the answer cost, and nothing more; the empty envelope the binary path answers with is
// not allocated for every text message as well.
func TestReceiveAllocatesNoSpareEnvelope(t *testing.T) {
	h := newTestHub(t, hubOpts{cfg: func(c *Config) { c.RatePerSecond, c.RateBurst = 1e9, 1<<30 }})
	c, err := h.Join(room1, claims("alice", true, false), discardTransport{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	msg := []byte(`{"v":1,"type":"ping","id":"p"}`)
	base := testing.AllocsPerRun(200, func() {
		env, _ := Decode(msg, 1<<16, room1, "alice")
		_ = c.room.encodeFor(TypePong, env.ID, nil)
	})
	got := testing.AllocsPerRun(200, func() { _ = c.Receive(msg) })
	t.Logf("decode+encode %v allocs, Receive %v", base, got)
	if got > base {
		t.Fatalf("Receive allocates %v per ping, decoding and answering it %v", got, base)
	}
}
