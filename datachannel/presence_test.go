package datachannel

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel/bus"
)

// TestPresenceIsThrottled joins many viewers at once: the count converges to the real
// number, in far fewer presence events than joins.
func TestPresenceIsThrottled(t *testing.T) {
	h := newTestHub(t, hubOpts{cfg: func(c *Config) { c.PresenceInterval = time.Second }})
	watcher := join(t, h, nil)
	const joins = 50
	for i := 0; i < joins; i++ {
		join(t, h, nil)
	}
	events := 0
	watcher.take("presence", func(e *Envelope) bool {
		if e.Type != TypePresence {
			return false
		}
		events++
		return num(payloadOf(t, e)["viewers"]) == joins+1
	})
	// At most one event a second (plus the first): a handful, whatever the machine's speed.
	if events > joins/5 {
		t.Fatalf("%d presence events for %d joins; want them throttled", events, joins)
	}
}

// mediaFake is a fakeTransport on a WebRTC session (a WHEP viewer's data channel).
type mediaFake struct{ *fakeTransport }

func (mediaFake) MediaSession() {}

// TestPresenceCountsTheAudience: with the SFU's audience wired in, presence is the WebRTC
// viewers (with a data channel or without) plus the connections that ride no media
// session, each viewer once; it follows the audience as viewers come and go in the SFU.
func TestPresenceCountsTheAudience(t *testing.T) {
	var audience atomic.Int64
	audience.Store(5) // five WHEP viewers, one of them with the interaction channel
	h := newTestHub(t, hubOpts{opts: Options{Audience: func(room string) int {
		if room != room1 {
			t.Errorf("audience asked for room %q", room)
		}
		return int(audience.Load())
	}}})
	ws := join(t, h, nil) // a WebSocket viewer
	if got := num(payloadOf(t, ws.next(TypePresence))["viewers"]); got != 6 {
		t.Fatalf("presence on join = %v, want 6 (5 WebRTC + 1 WebSocket)", got)
	}
	conn, err := h.Join(room1, nil, mediaFake{newFake(false)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	audience.Store(9)
	ws.take("presence 10", func(e *Envelope) bool {
		return e.Type == TypePresence && num(payloadOf(t, e)["viewers"]) == 10
	})
	audience.Store(0)
	ws.take("presence 1", func(e *Envelope) bool {
		return e.Type == TypePresence && num(payloadOf(t, e)["viewers"]) == 1
	})
}

// TestPresenceAcrossNodes: one room on two nodes sharing a bus. Node 1 has one WebRTC
// viewer, which is node 2's relay of the room, and a WebSocket viewer; node 2 relays the
// room to two WebRTC viewers and has a WebSocket viewer. Both nodes count 4 (the relay
// is not a person), and when node 2's viewers leave, node 1's count falls back once node
// 2 says so.
func TestPresenceAcrossNodes(t *testing.T) {
	b := bus.NewMemory()
	var audience2 atomic.Int64
	audience2.Store(2)
	h1 := newTestHub(t, hubOpts{bus: b, opts: Options{Audience: func(string) int { return 1 }}})
	h2 := newTestHub(t, hubOpts{bus: b.Peer(), opts: Options{Audience: func(string) int { return int(audience2.Load()) },
		Relaying: func(string) bool { return true }}})
	alice, bob := join(t, h1, nil), join(t, h2, nil)
	for _, c := range []*client{alice, bob} {
		c.take("presence 4", func(e *Envelope) bool {
			return e.Type == TypePresence && num(payloadOf(t, e)["viewers"]) == 4
		})
	}
	audience2.Store(0)
	alice.take("presence 2", func(e *Envelope) bool {
		return e.Type == TypePresence && num(payloadOf(t, e)["viewers"]) == 2
	})
}
