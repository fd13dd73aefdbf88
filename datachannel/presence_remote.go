package datachannel

import (
	"encoding/json"
	"time"
)

// Presence across nodes: every node of a room publishes its own count on the bus (topic
// presenceTopic) when it changes and every presenceHeartbeat, and a room's presence is
// the sum of the counts nodes reported within presenceExpiry, this node's included. A node
// that relays the room from its origin (ingest/relay) is one WHEP viewer at the origin,
// already counted there as a viewer: each relaying node's report takes one off the sum.

// presenceTopic is the bus topic of a node's own presence count (not a client event).
const presenceTopic = "presence.node"

// presenceHeartbeat is how often a node repeats an unchanged count; presenceExpiry is how
// long a count lasts without one (a node that died stops counting).
const (
	presenceHeartbeat = 5 * time.Second
	presenceExpiry    = 3 * presenceHeartbeat
)

// nodePresence is one node's report.
type nodePresence struct {
	Viewers  int  `json:"viewers"`
	Relaying bool `json:"relaying,omitempty"`
	// Reduced is HostState.Reduced of the host live on the reporting node (its origin),
	// for the relaying nodes' viewers: their own host is the relay, which cannot know it.
	Reduced string `json:"reduced,omitempty"`

	node string
	at   time.Time
}

// remotePresence holds the other nodes' latest reports; owned by the room's goroutine.
type remotePresence map[string]nodePresence

// total is this node's count plus the others' fresh ones, less one per relaying node.
func (p remotePresence) total(local int, relaying bool, now time.Time) int {
	n := local
	if relaying {
		n--
	}
	for node, r := range p {
		if now.Sub(r.at) > presenceExpiry {
			delete(p, node)
			continue
		}
		n += r.Viewers
		if r.Relaying {
			n--
		}
	}
	return max(n, 0)
}

// reducedAt is what node's latest report, if fresh, says its host's viewers get less of.
func (p remotePresence) reducedAt(node string, now time.Time) string {
	r, ok := p[node]
	if !ok || now.Sub(r.at) > presenceExpiry {
		return ""
	}
	return r.Reduced
}

// relaying reports whether this node relays the room from its origin.
func (r *room) relaying() bool {
	return r.hub.opts.Relaying != nil && r.hub.opts.Relaying(r.name)
}

// localPresence is this node's report: its own count, whether it relays the room, and
// what its own live host's viewers get less of.
func (r *room) localPresence() nodePresence {
	p := nodePresence{Viewers: r.localViewers(), Relaying: r.relaying()}
	if !p.Relaying && r.host.Live {
		p.Reduced = r.host.Reduced
	}
	return p
}

// publishPresence sends this node's report to the other nodes when it changed or the
// heartbeat is due.
func (r *room) publishPresence(now time.Time) {
	p := r.localPresence()
	if p == r.sentPresence && now.Sub(r.sentPresenceAt) < presenceHeartbeat {
		return
	}
	data, _ := json.Marshal(p)
	if r.hub.bus.Publish(r.name, presenceTopic, data) == nil {
		r.sentPresence, r.sentPresenceAt = p, now
	}
}

// onRemotePresence keeps another node's report.
func (r *room) onRemotePresence(p *nodePresence) {
	if r.remotePresence == nil {
		r.remotePresence = remotePresence{}
	}
	r.remotePresence[p.node] = *p
}

// maxReducedBytes bounds a report's reason: the server's own sentences are under 200.
const maxReducedBytes = 512

// decodePresence reads a node's report off the bus.
func decodePresence(node string, data []byte, now time.Time) (*nodePresence, bool) {
	var p nodePresence
	if json.Unmarshal(data, &p) != nil || p.Viewers < 0 || p.Viewers > 100_000_000 || len(p.Reduced) > maxReducedBytes {
		return nil, false
	}
	p.node, p.at = node, now
	return &p, true
}
