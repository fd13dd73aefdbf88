package datachannel

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/roomname"
)

// TestRoomStateEvents: with the SFU's host state wired in, a viewer who joins before the
// host is told room.ended "not_started"; it is told room.live when the host starts,
// room.ended with the reason when the host goes, room.live again when it comes back, and
// room.live once more for a host that left and returned between two looks (a new epoch).
// A replacement that keeps the host live (same epoch) is not announced. A joiner gets the
// current state, and so does sync.
func TestRoomStateEvents(t *testing.T) {
	host, set := hostStub(HostState{})
	h := newTestHub(t, hubOpts{opts: Options{Host: host}})
	early := join(t, h, nil)
	want := func(c *client, typ, key string, val any) {
		t.Helper()
		env := c.take(typ, func(e *Envelope) bool { return e.Type == TypeRoomLive || e.Type == TypeRoomEnded })
		if got := payloadOf(t, env)[key]; env.Type != typ || (key != "epoch" && got != val) || (key == "epoch" && num(got) != val.(int64)) {
			t.Fatalf("got %s %s, want %s with %s %v", env.Type, env.Payload, typ, key, val)
		}
	}
	want(early, TypeRoomEnded, "reason", EndedNotStarted)

	since := time.Now()
	set(HostState{Live: true, Since: since, Epoch: 1})
	want(early, TypeRoomLive, "epoch", int64(1))
	late := join(t, h, nil)
	want(late, TypeRoomLive, "epoch", int64(1))

	set(HostState{Reason: EndedGone, Since: since, Epoch: 1})
	want(early, TypeRoomEnded, "reason", EndedGone)
	want(late, TypeRoomEnded, "reason", EndedGone)
	set(HostState{Live: true, Epoch: 2})
	want(early, TypeRoomLive, "epoch", int64(2))
	set(HostState{Live: true, Epoch: 3}) // went and came back between two polls
	want(early, TypeRoomLive, "epoch", int64(3))
	set(HostState{Reason: EndedStopped, Epoch: 3})
	want(early, TypeRoomEnded, "reason", EndedStopped)

	early.send(TypeSync, "s1", nil)
	want(early, TypeRoomEnded, "reason", EndedStopped)
	early.wantAck("s1")
	time.Sleep(3 * tickEvery)
	for _, e := range early.drain() {
		if e.Type == TypeRoomLive {
			t.Fatalf("room.live with no change: %s", e.Payload)
		}
	}
}

// TestJoinStateIsFresh: a viewer who joins right after the host went live is told
// room.live in its join state, without waiting for the tick that would announce it (and
// without room.ended "not_started" first); one already in the room is told at once too.
func TestJoinStateIsFresh(t *testing.T) {
	host, set := hostStub(HostState{})
	h := newTestHub(t, hubOpts{opts: Options{Host: host}})
	early := join(t, h, nil)
	stage := func(e *Envelope) bool { return e.Type == TypeRoomLive || e.Type == TypeRoomEnded }
	if env := early.take(TypeRoomEnded, stage); env.Type != TypeRoomEnded {
		t.Fatalf("before the host: %s %s, want room.ended", env.Type, env.Payload)
	}
	set(HostState{Live: true, Since: time.Now(), Epoch: 1})
	late := join(t, h, nil) // within a tick of the change (ticks are 50 ms apart)
	if env := late.take(TypeRoomLive, stage); env.Type != TypeRoomLive {
		t.Fatalf("joined just after the host went live: first told %s %s, want room.live", env.Type, env.Payload)
	}
	if env := early.take(TypeRoomLive, stage); env.Type != TypeRoomLive {
		t.Fatalf("already in the room: told %s %s, want room.live", env.Type, env.Payload)
	}
	time.Sleep(3 * tickEvery)
	for _, c := range []*client{early, late} {
		for _, e := range c.drain() {
			if stage(e) {
				t.Fatalf("%s again after the change was told: %s", e.Type, e.Payload)
			}
		}
	}
}

// TestNoRoomStateWithoutHost: a hub with no host state wired in (no SFU) sends no room
// state at all, rather than claiming a host that is not known.
func TestNoRoomStateWithoutHost(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	c := join(t, h, nil)
	c.send(TypeSync, "s1", nil)
	c.wantAck("s1")
	for _, e := range c.drain() {
		if e.Type == TypeRoomLive || e.Type == TypeRoomEnded {
			t.Fatalf("%s without a host state", e.Type)
		}
	}
}

// TestRoomEndedReasonChange: a host declared gone whose session then ends (WHIP DELETE)
// turns stopped while still not live: viewers get room.ended again with the new reason,
// so they stop waiting for a host that said it is done.
func TestRoomEndedReasonChange(t *testing.T) {
	host, set := hostStub(HostState{Live: true, Epoch: 1})
	h := newTestHub(t, hubOpts{opts: Options{Host: host}})
	c := join(t, h, nil)
	isStage := func(e *Envelope) bool { return e.Type == TypeRoomLive || e.Type == TypeRoomEnded }
	if env := c.take(TypeRoomLive, isStage); env.Type != TypeRoomLive {
		t.Fatalf("joined a live room: got %s", env.Type)
	}
	for _, reason := range []string{EndedGone, EndedStopped} {
		set(HostState{Reason: reason, Epoch: 1})
		env := c.take(TypeRoomEnded, isStage)
		if got := payloadOf(t, env)["reason"]; env.Type != TypeRoomEnded || got != reason {
			t.Fatalf("got %s %s, want room.ended %s", env.Type, env.Payload, reason)
		}
	}
}

// TestRoomQualityEvents: when the server sheds work to keep up with the host (the SFU's
// HostState.Reduced), viewers are told room.quality with the reason, and told again when it
// no longer holds (a new host session); the join and sync state always say it, reduced or
// not, so a client that reconnected learns a reduction is over.
func TestRoomQualityEvents(t *testing.T) {
	host, set := hostStub(HostState{Live: true, Epoch: 1})
	h := newTestHub(t, hubOpts{opts: Options{Host: host}})
	isQuality := func(e *Envelope) bool { return e.Type == TypeRoomQuality }
	early := join(t, h, nil)
	if p := payloadOf(t, early.take(TypeRoomQuality, isQuality)); p["reduced"] != false {
		t.Fatalf("joined a room never reduced: room.quality %v, want not reduced", p)
	}
	noQualityEvent(t, early, "with no change")

	const why = "the server cannot transcode this stream in real time, so it dropped its 1280x720 rendition (f)"
	set(HostState{Live: true, Epoch: 1, Reduced: why})
	env := early.take(TypeRoomQuality, isQuality)
	if p := payloadOf(t, env); p["reduced"] != true || p["reason"] != why {
		t.Fatalf("room.quality %s, want reduced with the reason", env.Payload)
	}
	late := join(t, h, nil)
	if p := payloadOf(t, late.take(TypeRoomQuality, isQuality)); p["reduced"] != true {
		t.Fatalf("a joiner was not told the picture is reduced: %v", p)
	}

	set(HostState{Live: true, Epoch: 1}) // a new host session, all it sends
	env = early.take(TypeRoomQuality, isQuality)
	if p := payloadOf(t, env); p["reduced"] != false {
		t.Fatalf("room.quality %s, want not reduced", env.Payload)
	}
}

// TestRoomQualityOnRelayingNode: a room relayed from its origin (a cluster) has the relay
// for its host, which knows nothing of the origin's ladder; the origin, where nobody
// watches (its room opened for the RTMP host, and kept open past RoomIdle while the host
// is live), reports the reduction and the relaying node's viewers are told, on join and
// when it changes. Another node's report (a former origin) is not taken for the origin's.
func TestRoomQualityOnRelayingNode(t *testing.T) {
	b := bus.NewMemory()
	host, set := hostStub(HostState{Live: true, Epoch: 1})
	idle := func(c *Config) { c.RoomIdle = time.Second }
	h1 := newTestHub(t, hubOpts{bus: b, cfg: idle, opts: Options{Host: host}})
	// The relaying node's own host state: the relay, live, never reduced by itself.
	h2 := newTestHub(t, hubOpts{bus: b.Peer(), opts: Options{
		Host:     func(string) HostState { return HostState{Live: true, Epoch: 1, Reduced: "the relay's own"} },
		Relaying: func(string) bool { return true },
		Origin:   func(string) string { return b.Node() },
	}})
	// A former origin that still thinks its host is live, reporting a reduction.
	former := b.Peer()
	stale := func() {
		if err := former.Publish(room1, presenceTopic, []byte(`{"viewers":0,"reduced":"a former origin's"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h1.Open(room1); err != nil {
		t.Fatal(err)
	}
	if err := h1.Open("no/such room"); !errors.Is(err, roomname.ErrInvalid) {
		t.Fatalf("Open of a bad name: %v, want roomname.ErrInvalid", err)
	}
	time.Sleep(1500 * time.Millisecond) // past RoomIdle: the origin's room must still be open
	if h1.Rooms() != 1 {
		t.Fatalf("the origin's room retired while its host is live: %d rooms", h1.Rooms())
	}

	isQuality := func(e *Envelope) bool { return e.Type == TypeRoomQuality }
	early := join(t, h2, nil)
	stale()
	if p := payloadOf(t, early.take(TypeRoomQuality, isQuality)); p["reduced"] != false {
		t.Fatalf("joined on the relaying node: room.quality %v, want not reduced (the relay's own state is not the host's)", p)
	}
	const why = "the server cannot transcode this stream in real time, so it switched to a faster x264 preset (ultrafast, was veryfast)"
	set(HostState{Live: true, Epoch: 1, Reduced: why})
	env := early.take(TypeRoomQuality, isQuality)
	if p := payloadOf(t, env); p["reduced"] != true || p["reason"] != why {
		t.Fatalf("relaying node's viewer got room.quality %s, want the origin's reason", env.Payload)
	}
	late := join(t, h2, nil)
	if p := payloadOf(t, late.take(TypeRoomQuality, isQuality)); p["reduced"] != true || p["reason"] != why {
		t.Fatalf("a joiner on the relaying node was not told the origin's reduction: %v", p)
	}
	set(HostState{Live: true, Epoch: 2}) // the host reconnected: all it sends
	stale()
	if p := payloadOf(t, early.take(TypeRoomQuality, isQuality)); p["reduced"] != false {
		t.Fatalf("room.quality %v after the origin's host came back whole, want not reduced", p)
	}
	noQualityEvent(t, early, "from another node's report")
}

// noQualityEvent fails the test if c gets a room.quality within three room ticks.
func noQualityEvent(t *testing.T, c *client, why string) {
	t.Helper()
	time.Sleep(3 * tickEvery)
	for _, e := range c.drain() {
		if e.Type == TypeRoomQuality {
			t.Fatalf("room.quality %s: %s", why, e.Payload)
		}
	}
}

// hostStub is an Options.Host whose state the test sets, starting at st.
func hostStub(st HostState) (host func(string) HostState, set func(HostState)) {
	var mu sync.Mutex
	host = func(string) HostState { mu.Lock(); defer mu.Unlock(); return st }
	set = func(s HostState) { mu.Lock(); st = s; mu.Unlock() }
	return host, set
}
