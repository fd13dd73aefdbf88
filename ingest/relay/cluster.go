package relay

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// A room across the cluster: its origin's directory entry carries the origin's viewer
// count, and every node relaying the room puts an entry under it (Directory.PutSub) with
// its own, every Announce while the relay runs; the entry goes when the relay ends, or
// expires with its node. View reads them back.

// RelayEntry is a relaying node's entry under its room's.
type RelayEntry struct {
	Node    string `json:"node"`
	URL     string `json:"url"`     // the relaying node's HTTP base URL, as the other nodes reach it
	Viewers int    `json:"viewers"` // WebRTC viewers of the room on that node
	Since   int64  `json:"since"`   // when the relay started (Unix ms)
}

// ClusterView is a room across the cluster.
type ClusterView struct {
	Origin Entry        `json:"origin"`
	Relays []RelayEntry `json:"relays"` // by node
	// Viewers is the room's WebRTC viewers on every node: the origin's and the relays',
	// less the relays' own sessions at the origin (each is one WHEP viewer there).
	Viewers int `json:"viewers"`
}

// View is room as the directory has it; ok is false when no node announces it.
func (r *Relays) View(ctx context.Context, room string) (v ClusterView, ok bool, err error) {
	v.Origin, ok, err = r.Origin(ctx, room)
	if err != nil || !ok {
		return v, ok, err
	}
	v.Relays = []RelayEntry{}
	v.Viewers = v.Origin.Viewers
	subs, err := r.opts.Directory.ListSubs(ctx, room)
	if err != nil {
		return v, true, err // the origin alone
	}
	for _, value := range subs {
		var e RelayEntry
		if json.Unmarshal(value, &e) != nil || e.Node == v.Origin.Node {
			continue
		}
		v.Relays = append(v.Relays, e)
		v.Viewers += e.Viewers - 1
	}
	slices.SortFunc(v.Relays, func(a, b RelayEntry) int { return strings.Compare(a.Node, b.Node) })
	v.Viewers = max(v.Viewers, 0)
	return v, true, nil
}

// announceRelays puts this node's entry under each room it relays (connected). It holds
// relayDir while it writes, so that a relay that ends, taken out of pulls, and then
// withdrawn (withdrawRelay) is never put back by a pass that listed it before.
func (r *Relays) announceRelays(ctx context.Context) {
	r.relayDir.Lock()
	defer r.relayDir.Unlock()
	r.mu.Lock()
	pulls := make([]*pull, 0, len(r.pulls))
	for _, p := range r.pulls {
		if p.live.Load() {
			pulls = append(pulls, p)
		}
	}
	r.mu.Unlock()
	for _, p := range pulls {
		viewers := 0
		if sr := r.opts.SFU.Room(p.room); sr != nil {
			viewers = sr.Info().Viewers
		}
		value, _ := json.Marshal(RelayEntry{Node: r.opts.Node, URL: r.opts.URL, Viewers: viewers, Since: p.started.UnixMilli()})
		if err := r.opts.Directory.PutSub(ctx, p.room, r.opts.Node, value); err != nil {
			r.opts.Log.Debug("relay not announced in the room directory", zap.String("room", p.room), zap.Error(err))
		}
	}
}

// withdrawRelay takes this node's entry from under room's; the caller took the relay out
// of pulls first.
func (r *Relays) withdrawRelay(room string) {
	r.relayDir.Lock()
	defer r.relayDir.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.opts.Directory.DeleteSub(ctx, room, r.opts.Node)
}
