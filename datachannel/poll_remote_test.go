package datachannel

import (
	"slices"
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/poll"
)

// TestPollAcrossNodes runs one room on three nodes sharing a bus: a poll opened on one is
// open on all, votes cast on each node add up everywhere, a node that starts serving the
// room later is told the poll at once, a close on one closes it on all with one set of
// winners, the votes of a node that died stay counted, and an id opened again starts
// from nothing everywhere.
func TestPollAcrossNodes(t *testing.T) { onThreeBuses(t, pollAcrossNodes) }

// onThreeBuses runs f with three nodes' buses: in memory, then over a real NATS server.
func onThreeBuses(t *testing.T, f func(t *testing.T, b1, b2, b3 bus.Bus)) {
	t.Run("memory", func(t *testing.T) {
		b := bus.NewMemory()
		f(t, b, b.Peer(), b.Peer())
	})
	t.Run("NATS", func(t *testing.T) {
		url := natsServer(t)
		f(t, openNATS(t, url), openNATS(t, url), openNATS(t, url))
	})
}

// twoNodes is one room on two nodes: the host and alice on the first, bob and carol on
// the second.
type twoNodes struct {
	h1, h2                  *Hub
	host, alice, bob, carol *client
}

func startTwoNodes(t *testing.T, b1, b2 bus.Bus) twoNodes {
	t.Helper()
	n := twoNodes{h1: newTestHub(t, hubOpts{bus: b1}), h2: newTestHub(t, hubOpts{bus: b2})}
	n.host = join(t, n.h1, claims("host", true, true))
	n.alice = join(t, n.h1, claims("alice", true, false))
	n.bob = join(t, n.h2, claims("bob", true, false))
	n.carol = join(t, n.h2, claims("carol", true, false))
	return n
}

func pollAcrossNodes(t *testing.T, b1, b2, b3 bus.Bus) {
	n := startTwoNodes(t, b1, b2)
	h2, host, alice, bob, carol := n.h2, n.host, n.alice, n.bob, n.carol

	host.send(TypePollOpen, "open", pollOpen{PollID: "p1", Question: "Next?", Options: []string{"a", "b", "c"}, DurationMs: 60_000})
	host.wantAck("open")
	bob.nextWhere(TypePollState, isPoll("p1", true, []int{0, 0, 0}))

	alice.send(TypePollVote, "v", pollVote{PollID: "p1", Option: 0})
	alice.wantAck("v")
	bob.send(TypePollVote, "v", pollVote{PollID: "p1", Option: 1})
	bob.wantAck("v")
	carol.send(TypePollVote, "v", pollVote{PollID: "p1", Option: 1})
	carol.wantAck("v")
	want := []int{1, 2, 0}
	for _, c := range []*client{alice, bob} {
		if p := c.nextWhere(TypePollState, isPoll("p1", true, want)); num(p["total"]) != 3 {
			t.Fatalf("total %v, want 3", p["total"])
		}
	}
	// A node that starts serving the room now learns the poll from the others' reports
	// (asked for when its room starts, or repeated every pollHeartbeat).
	h3 := newTestHub(t, hubOpts{bus: b3})
	dave := join(t, h3, claims("dave", true, false))
	dave.nextWhere(TypePollState, isPoll("p1", true, want))
	dave.send(TypePollVote, "v", pollVote{PollID: "p1", Option: 2})
	dave.wantAck("v")
	want = []int{1, 2, 1}
	host.nextWhere(TypePollState, isPoll("p1", true, want))

	// Node 2 dies: its votes were reported and stay counted.
	h2.Close()
	host.send(TypePollClose, "close", pollRef{PollID: "p1"})
	host.wantAck("close")
	for _, c := range []*client{host, dave} {
		p := c.nextWhere(TypePollState, isPoll("p1", false, want))
		if w := ints(p["winners"]); !slices.Equal(w, []int{1}) {
			t.Fatalf("winners %v, want [1]", w)
		}
	}
	dave.send(TypePollVote, "late", pollVote{PollID: "p1", Option: 0})
	dave.wantError("late", CodeClosed)

	// Opened again under the same id: a new poll everywhere, the old votes gone.
	dave.send(TypePollOpen, "again", pollOpen{PollID: "p1", Question: "Again?", Options: []string{"x", "y"}, DurationMs: 60_000})
	dave.wantError("again", CodeForbidden) // only a host opens polls
	host.send(TypePollOpen, "again", pollOpen{PollID: "p1", Question: "Again?", Options: []string{"x", "y"}, DurationMs: 60_000})
	host.wantAck("again")
	dave.nextWhere(TypePollState, isPoll("p1", true, []int{0, 0}))
	dave.send(TypePollVote, "v2", pollVote{PollID: "p1", Option: 1})
	dave.wantAck("v2")
	host.nextWhere(TypePollState, isPoll("p1", true, []int{0, 1}))
}

// isPoll matches a poll.state of id, open or closed, with these counts.
func isPoll(id string, open bool, counts []int) func(map[string]any) bool {
	return func(p map[string]any) bool {
		return p["pollId"] == id && p["open"] == open && slices.Equal(ints(p["counts"]), counts)
	}
}

func ints(v any) []int {
	var out []int
	for _, x := range asSlice(v) {
		out = append(out, int(num(x)))
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestPollRoomRestartsOnANode: a node's room retires (nobody connected for RoomIdle) after
// it counted a vote, and starts again when a viewer comes back: its new votes add to its
// earlier ones on every node rather than replace them, and the new room learns its
// earlier tally from the others.
func TestPollRoomRestartsOnANode(t *testing.T) {
	b := bus.NewMemory()
	h1 := newTestHub(t, hubOpts{bus: b})
	h2 := newTestHub(t, hubOpts{bus: b.Peer(), cfg: func(c *Config) { c.RoomIdle = time.Second }})
	host := join(t, h1, claims("host", true, true))
	host.send(TypePollOpen, "open", pollOpen{PollID: "p1", Question: "Next?", Options: []string{"a", "b"}, DurationMs: 60_000})
	host.wantAck("open")
	bob := join(t, h2, claims("bob", true, false))
	bob.nextWhere(TypePollState, isPoll("p1", true, []int{0, 0}))
	bob.send(TypePollVote, "v", pollVote{PollID: "p1", Option: 1})
	bob.wantAck("v")
	host.nextWhere(TypePollState, isPoll("p1", true, []int{0, 1}))

	bob.conn.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		h2.mu.Lock()
		_, open := h2.rooms[room1]
		h2.mu.Unlock()
		if !open {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node 2's room did not retire")
		}
	}
	carol := join(t, h2, claims("carol", true, false))
	carol.nextWhere(TypePollState, isPoll("p1", true, []int{0, 1})) // bob's vote, relayed back
	carol.send(TypePollVote, "v", pollVote{PollID: "p1", Option: 0})
	carol.wantAck("v")
	host.nextWhere(TypePollState, isPoll("p1", true, []int{1, 1}))
	carol.nextWhere(TypePollState, isPoll("p1", true, []int{1, 1}))
}

// TestPollTallyVersions: a room's tally relayed late by a third node (a sync) never
// replaces a newer report of that room's own.
func TestPollTallyVersions(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	r := newRoom(h, "versions") // its goroutine is not started: this test owns it
	defer r.wakes.stop()
	spec := poll.Spec{ID: "p1", Question: "Next?", Options: []string{"a", "b"}, Deadline: time.Now().Add(time.Minute)}
	opened := time.Now().UnixMilli() - 1000 // one opening: every report names the same
	report := func(from string, counts []int, version uint64, origin string) {
		r.handle(command{poll: &nodePoll{Spec: spec, Opened: opened, OpenedBy: "n1",
			Tally: poll.Tally{Counts: counts, Voters: counts[0] + counts[1]}, Version: version, Room: "i-" + from, Origin: origin, node: from}})
	}
	report("n2", []int{2, 1}, 3, "")                     // n2's own, version 3
	report("n3", []int{1, 0}, 1, tallyKey("n2", "i-n2")) // n2's version 1, relayed by n3
	if s := r.polls["p1"].snapshot(); !slices.Equal(s.Counts, []int{2, 1}) || s.Total != 3 {
		t.Fatalf("after a stale relayed copy: %+v; want n2's version 3 kept", s)
	}
	report("n3", []int{5, 0}, 4, tallyKey("n2", "i-n2")) // a newer copy is taken
	if s := r.polls["p1"].snapshot(); !slices.Equal(s.Counts, []int{5, 0}) {
		t.Fatalf("after a newer relayed copy: %+v", s)
	}
}
