package relay

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/glintlive/glint/datachannel/bus"
)

// TestNodesListEachOther: two nodes sharing a bus each announce themselves in the node
// directory; each lists itself first, then the other, with the URL clients reach it at
// (PublicURL, else URL); a node that closes takes its entry out at once.
func TestNodesListEachOther(t *testing.T) {
	cfg := bus.DefaultConfig()
	cfg.DataDir = t.TempDir()
	b, err := bus.Open(context.Background(), cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	rooms, err := b.Directory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := b.NodeDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	local := newSFU(t)
	defer local.Close()
	start := func(node, url, public string) *Relays {
		r, err := New(Options{SFU: local, Directory: rooms, Nodes: nodes, Node: node, URL: url, PublicURL: public,
			Log: zaptest.NewLogger(t), Token: func(string) (string, error) { return "token", nil }, Announce: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		r.Start()
		return r
	}
	a := start("node-a", "http://10.0.0.1:8080", "https://a.example.com")
	defer a.Close()
	bNode := start("node-b", "http://10.0.0.2:8080", "")
	list := func(r *Relays) []NodeEntry {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			got, err := r.Nodes(ctx)
			if err == nil && len(got) == 2 {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s lists %+v, %v; want both nodes", r.opts.Node, got, err)
			}
		}
	}
	if got := list(a); got[0].URL != "https://a.example.com" || got[1].Node != "node-b" || got[1].URL != "http://10.0.0.2:8080" {
		t.Fatalf("node A lists %+v: want itself (its public URL) first, then B (its node URL)", got)
	}
	if got := list(bNode); got[0].Node != "node-b" || got[1].URL != "https://a.example.com" {
		t.Fatalf("node B lists %+v: want itself first, then A", got)
	}
	bNode.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got, err := a.Nodes(ctx)
		if err == nil && len(got) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node A still lists %+v after B closed", got)
		}
	}
}

// hangingLister is a node directory whose reads after the first hang until released, as
// a JetStream KV bucket's do while its stream has no leader (the node that led it died).
type hangingLister struct {
	Directory // not used: only List is
	calls     atomic.Int32
	inList    atomic.Bool
	release   chan struct{}
}

func (h *hangingLister) List(ctx context.Context) (map[string][]byte, error) {
	other := map[string][]byte{"node-b": []byte(`{"node":"node-b","url":"http://10.0.0.2:8080"}`)}
	if h.calls.Add(1) == 1 {
		return other, nil
	}
	h.inList.Store(true)
	defer h.inList.Store(false)
	select {
	case <-h.release:
		other["node-c"] = []byte(`{"node":"node-c","url":"http://10.0.0.3:8080"}`)
		return other, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestNodesAnswerWhileTheDirectoryHangs: once a node has a listing, a caller past its
// freshness gets it at once while the directory is read behind it, rather than waiting
// out a directory that hangs (a relay's WHEP request at the origin asks IsNode, and a
// viewer that failed over waited 2 s for its picture); the new listing is used once read.
func TestNodesAnswerWhileTheDirectoryHangs(t *testing.T) {
	local := newSFU(t)
	defer local.Close()
	dir := &hangingLister{release: make(chan struct{})}
	r, err := New(Options{SFU: local, Directory: dir, Nodes: dir, Node: "node-a", URL: "http://10.0.0.1:8080",
		Log: zaptest.NewLogger(t), Token: func(string) (string, error) { return "token", nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if got, _ := r.Nodes(ctx); len(got) != 2 {
		t.Fatalf("first listing %+v, want node-a and node-b", got)
	}
	r.nodesMu.Lock()
	r.nodesAt = time.Now().Add(-2 * nodesFresh) // stale
	r.nodesMu.Unlock()
	got, _ := r.Nodes(ctx)
	if len(got) != 2 {
		t.Fatalf("stale listing %+v, want the last one (node-a, node-b)", got)
	}
	if !r.IsNode(ctx, "node-b") {
		t.Fatal("IsNode(node-b) false from the last listing")
	}
	for deadline := time.Now().Add(5 * time.Second); !dir.inList.Load(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the directory was not read behind the stale listing")
		}
	}
	// Nodes returned while the read it started still hangs.
	close(dir.release)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got, _ := r.Nodes(ctx); len(got) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new listing was never used: %+v", got)
		}
	}
	if n := dir.calls.Load(); n != 2 {
		t.Errorf("%d reads of the directory, want 2 (one behind the stale listing)", n)
	}
}
