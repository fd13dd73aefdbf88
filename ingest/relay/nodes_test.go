package relay

import (
	"context"
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
