package relay

import (
	"encoding/json"
	"sync"
	"time"
)

// Origin hints: a node that announces a room in the directory also says so on the bus
// (core NATS: sent to every node at once, nothing stored), and the other nodes take a hint
// newer than the directory's entry as the room's origin. The directory is a JetStream KV
// bucket, which takes no write while its stream has no leader: when the node that led it
// dies, NATS elects another in 4 to 9 s (its raft election timeout, fixed), and a host
// that failed over to another node in that window could not be found by any relay until
// then (a host's failover took 9.6 and 10.6 s in 2 of 6 runs of
// TestBrowserHostFailsOverToAnotherNode; 2.8 to 4.2 s in the others). A hint lives for
// hintTTL, as a directory entry does without its heartbeat; a room whose host left is
// withdrawn by a hint too.

// Hints carry origin hints between the nodes of a cluster (cmd/glint: the bus's core
// NATS subjects). Receive's fn gets the other nodes' hints, never this node's own.
type Hints interface {
	Send(data []byte) error
	Receive(fn func(data []byte)) (stop func(), err error)
}

// hint is one origin hint on the wire.
type hint struct {
	Room  string `json:"room"`
	Entry Entry  `json:"entry"`
	Gone  bool   `json:"gone,omitempty"` // the host of Entry left: forget that hint
}

// hintTTL is how long a hint stands without being sent again (an origin sends one with
// every announcement): the directory's own time to live.
const hintTTL = 15 * time.Second

// maxHints bounds the hints a node keeps: far more live rooms than a cluster hosts. When
// full, expired hints go, then all (the directory still answers).
const maxHints = 100_000

// hintBook is the hints a node has received, by room.
type hintBook struct {
	mu    sync.Mutex
	rooms map[string]heldHint
}

type heldHint struct {
	e  Entry
	at time.Time
}

// take records a hint received at now.
func (b *hintBook) take(data []byte, now time.Time) {
	var h hint
	if json.Unmarshal(data, &h) != nil || h.Room == "" || h.Entry.Node == "" || (!h.Gone && h.Entry.URL == "") {
		return // not a hint: nothing another node could act on
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old, had := b.rooms[h.Room]
	if h.Gone {
		if had && old.e.Node == h.Entry.Node && old.e.Since == h.Entry.Since {
			delete(b.rooms, h.Room)
		}
		return
	}
	if had && now.Sub(old.at) < hintTTL && old.e.Since > h.Entry.Since {
		return // a later host's hint stands
	}
	if b.rooms == nil {
		b.rooms = map[string]heldHint{}
	}
	if !had && len(b.rooms) >= maxHints {
		for room, held := range b.rooms {
			if now.Sub(held.at) >= hintTTL {
				delete(b.rooms, room)
			}
		}
		if len(b.rooms) >= maxHints {
			clear(b.rooms)
		}
	}
	b.rooms[h.Room] = heldHint{e: h.Entry, at: now}
}

// get is room's hint, if one stands at now.
func (b *hintBook) get(room string, now time.Time) (Entry, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	held, ok := b.rooms[room]
	if !ok {
		return Entry{}, false
	}
	if now.Sub(held.at) >= hintTTL {
		delete(b.rooms, room)
		return Entry{}, false
	}
	return held.e, true
}

// sendHint tells the other nodes that this node is room's origin since since (or, gone,
// no more).
func (r *Relays) sendHint(room string, e Entry, gone bool) {
	if r.opts.Hints == nil {
		return
	}
	data, _ := json.Marshal(hint{Room: room, Entry: e, Gone: gone})
	_ = r.opts.Hints.Send(data) // best effort: the directory is the record
}
