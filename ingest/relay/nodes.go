package relay

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"go.uber.org/zap"
)

// The node directory: every node of the cluster puts its entry (where clients reach it)
// every Announce, and it expires DirectoryTTL after the node stops (dies, or is cut off
// from the cluster), so Nodes is the cluster's live nodes as this node sees them. Clients
// ask for it (GET /nodes) to know where to go when their node is lost.

// NodeEntry is a node's entry in the node directory.
type NodeEntry struct {
	Node  string `json:"node"`  // the node's bus node id
	URL   string `json:"url"`   // its HTTP base URL, as clients reach it
	Since int64  `json:"since"` // when it started announcing (Unix ms)
}

// nodesFresh is how long a listing of the node directory is reused: a player asks on
// every connect, and a crowd connecting at once must not become a read per viewer.
const nodesFresh = time.Second

// listTimeout bounds a read of the node directory for a listing.
const listTimeout = 2 * time.Second

// announceNode puts this node's entry in the node directory.
func (r *Relays) announceNode(ctx context.Context) {
	if r.opts.Nodes == nil {
		return
	}
	value, _ := json.Marshal(r.selfEntry())
	if err := r.opts.Nodes.Put(ctx, r.opts.Node, value); err != nil {
		r.opts.Log.Warn("node not announced in the node directory", zap.Error(err))
	}
}

// withdrawNode takes this node's entry out of the node directory.
func (r *Relays) withdrawNode(ctx context.Context) {
	if r.opts.Nodes == nil {
		return
	}
	if _, revision, ok, err := r.opts.Nodes.Get(ctx, r.opts.Node); err == nil && ok {
		_ = r.opts.Nodes.Delete(ctx, r.opts.Node, revision)
	}
}

// Nodes lists the cluster's live nodes: this one first, then the others by name. Without
// a node directory it is this node alone. The listing is shared for nodesFresh by every
// caller (one read of the directory at a time). Past that, callers get the last listing at
// once while the directory is read behind it: a directory whose stream has lost its leader
// (the node that led it died) hangs a read for the whole timeout, and a relay's WHEP
// request at the origin (IsNode) waited those 2 s, so a viewer that failed over to another
// node saw no frame for 3 s (TestBrowserFailsOverToAnotherNode, 2 runs in 8). Only the
// first listing is waited for; when the directory cannot be read, the last listing (or
// this node alone) stands for nodesFresh more.
func (r *Relays) Nodes(ctx context.Context) ([]NodeEntry, error) {
	self := r.selfEntry()
	if r.opts.Nodes == nil {
		return []NodeEntry{self}, nil
	}
	r.nodesMu.Lock()
	if time.Since(r.nodesAt) < nodesFresh || r.listing {
		defer r.nodesMu.Unlock()
		if r.nodes == nil {
			return []NodeEntry{self}, nil
		}
		return r.nodes, nil
	}
	if r.nodes == nil { // the first listing: wait for it
		defer r.nodesMu.Unlock()
		// Not the asking client's context: its listing is every caller's.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), listTimeout)
		defer cancel()
		r.storeNodes(r.listNodes(lctx, self))
		return r.nodes, nil
	}
	stale := r.nodes
	r.listing = true
	r.nodesMu.Unlock()
	r.mu.Lock()
	closed := r.closed
	if !closed {
		r.wg.Add(1) // before Close's Wait: closed is set under mu
	}
	r.mu.Unlock()
	if closed {
		r.nodesMu.Lock()
		r.listing = false
		r.nodesMu.Unlock()
		return stale, nil
	}
	go func() {
		defer r.wg.Done()
		// Bounded, and cut short by Close, which waits for it.
		lctx, cancel := context.WithTimeout(context.Background(), listTimeout)
		defer cancel()
		go func() {
			select {
			case <-r.stop:
				cancel()
			case <-lctx.Done():
			}
		}()
		nodes := r.listNodes(lctx, self)
		r.nodesMu.Lock()
		defer r.nodesMu.Unlock()
		r.storeNodes(nodes)
		r.listing = false
	}()
	return stale, nil
}

// selfEntry is this node as a listing shows it.
func (r *Relays) selfEntry() NodeEntry {
	return NodeEntry{Node: r.opts.Node, URL: r.opts.PublicURL, Since: r.started}
}

// listNodes reads the node directory within ctx: this node first, then the others by
// name; nil when it cannot be read.
func (r *Relays) listNodes(ctx context.Context, self NodeEntry) []NodeEntry {
	entries, err := r.opts.Nodes.List(ctx)
	if err != nil {
		r.opts.Log.Warn("node directory unavailable: listing the nodes last seen", zap.Error(err))
		return nil
	}
	nodes := []NodeEntry{self}
	for name, value := range entries {
		var e NodeEntry
		if name == r.opts.Node || json.Unmarshal(value, &e) != nil || e.URL == "" {
			continue
		}
		nodes = append(nodes, e)
	}
	slices.SortFunc(nodes[1:], func(a, b NodeEntry) int { return cmp.Compare(a.Node, b.Node) })
	return nodes
}

// storeNodes makes nodes the listing (nil: the directory could not be read, and the last
// listing, or this node alone, stands); called with nodesMu held.
func (r *Relays) storeNodes(nodes []NodeEntry) {
	if nodes != nil {
		r.nodes = nodes
	} else if r.nodes == nil {
		r.nodes = []NodeEntry{{Node: r.opts.Node, URL: r.opts.PublicURL, Since: r.started}}
	}
	r.nodesAt = time.Now()
}

// IsNode reports whether node (a bus node id) is a live node of the cluster, by the node
// directory's latest listing (Nodes).
// A node missing from a listing older than nodesFresh (one that joined since) is looked
// for in the directory at once, for at most isNodeLookup: a relay's WHEP request that
// missed would make its session a plain viewer's, one layer, for the relay's life.
func (r *Relays) IsNode(ctx context.Context, node string) bool {
	nodes, _ := r.Nodes(ctx)
	if listed(nodes, node) {
		return true
	}
	r.nodesMu.Lock()
	stale := time.Since(r.nodesAt) >= nodesFresh
	r.nodesMu.Unlock()
	if !stale || r.opts.Nodes == nil {
		return false
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), isNodeLookup)
	defer cancel()
	fresh := r.listNodes(lctx, r.selfEntry())
	if fresh == nil {
		return false
	}
	r.nodesMu.Lock()
	r.storeNodes(fresh)
	r.nodesMu.Unlock()
	return listed(fresh, node)
}

// isNodeLookup bounds IsNode's own read of the directory: a healthy one answers in
// milliseconds, and one without a leader must not hold the request for seconds.
const isNodeLookup = 300 * time.Millisecond

func listed(nodes []NodeEntry, node string) bool {
	return slices.ContainsFunc(nodes, func(n NodeEntry) bool { return n.Node == node })
}
