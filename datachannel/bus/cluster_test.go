package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// testCluster is a cluster configuration listening on listen with routes to routes.
func testCluster(listen string, routes ...string) ClusterConfig {
	c := DefaultConfig().Cluster
	c.Listen, c.Routes, c.Secret = listen, routes, "test-cluster-secret"
	return c
}

// freeAddrs returns n loopback addresses with ports free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l.Addr().String())
		_ = l.Close()
	}
	return out
}

// openNodes opens the buses of a cluster at once (each waits for the others to form
// JetStream) and closes them at the end of the test.
func openNodes(t *testing.T, cfgs []Config) ([]*NATS, error) {
	t.Helper()
	buses := make([]*NATS, len(cfgs))
	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		wg.Go(func() {
			buses[i], errs[i] = Open(context.Background(), cfg, zaptest.NewLogger(t).Named(fmt.Sprint("node", i)))
		})
	}
	wg.Wait()
	for _, b := range buses {
		if b != nil {
			t.Cleanup(func() { _ = b.Close() })
		}
	}
	return buses, errors.Join(errs...)
}

// openCluster opens n clustered buses on free loopback ports, on new ports again when
// one was taken between being found free and being bound (tests run side by side).
func openCluster(t *testing.T, n int) ([]Config, []*NATS) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		cfgs := clusterConfigs(t, n)
		nodes, err := openNodes(t, cfgs)
		if err == nil {
			return cfgs, nodes
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		for _, b := range nodes {
			if b != nil {
				_ = b.Close()
			}
		}
	}
}

func clusterConfigs(t *testing.T, n int) []Config {
	addrs := freeAddrs(t, n)
	cfgs := make([]Config, n)
	for i := range cfgs {
		cfgs[i] = DefaultConfig()
		cfgs[i].DataDir = t.TempDir()
		cfgs[i].Cluster = testCluster(addrs[i], addrs...)
	}
	return cfgs
}

// TestClusterOfThree: three embedded servers joined by routes are one bus. The streams
// have three replicas; an event published on one node reaches the other two once each,
// in order, marked with its node; a record appended on one is replayed on another; with
// one node stopped the other two still take appends, and the stopped node, back with its
// data directory, has every acknowledged record.
func TestClusterOfThree(t *testing.T) {
	cfgs, nodes := openCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]

	info, err := a.streams[logStream].Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 {
		t.Fatalf("log stream replicas %d; want 3", info.Config.Replicas)
	}

	// Events: published on b, seen on a and c once each, in order, marked as b's.
	const events = 50
	type seen struct {
		mu     sync.Mutex
		probed bool
		data   []string
	}
	got := map[*NATS]*seen{a: {}, c: {}}
	for n, s := range got {
		sub, err := n.Subscribe("room1", "*", func(m Msg) {
			if m.Node != b.Node() {
				t.Errorf("event from node %q; want b's %q", m.Node, b.Node())
			}
			s.mu.Lock()
			if string(m.Data) == "probe" {
				s.probed = true
			} else {
				s.data = append(s.data, string(m.Data))
			}
			s.mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Stop)
	}
	// Interest travels over the routes: probe until both subscribers hear b.
	waitFor(t, 10*time.Second, "subscriptions to reach node b", func() bool {
		_ = b.Publish("room1", "probe", []byte("probe"))
		time.Sleep(50 * time.Millisecond)
		for _, s := range got {
			s.mu.Lock()
			ok := s.probed
			s.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
	for i := range events {
		if err := b.Publish("room1", "chat.message", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for n, s := range got {
		waitFor(t, 10*time.Second, "events on the other nodes", func() bool { s.mu.Lock(); defer s.mu.Unlock(); return len(s.data) >= events })
		s.mu.Lock()
		for i, d := range s.data {
			if d != fmt.Sprintf("m%d", i) {
				t.Fatalf("node %s: event %d is %q; want m%d (all: %v)", n.Node(), i, d, i, s.data)
			}
		}
		if len(s.data) != events {
			t.Fatalf("node %s: %d events; want %d once each", n.Node(), len(s.data), events)
		}
		s.mu.Unlock()
	}

	// Records: appended on a, replayed on c; with b stopped, still appended and kept.
	lot := AuctionLog("room1", "lot1")
	var acked []uint64
	appendOn := func(n *NATS, what string) {
		t.Helper()
		ack, err := n.Append(context.Background(), lot, []byte(what), AppendOptions{MsgID: what})
		if err != nil {
			t.Fatalf("append %s: %v", what, err)
		}
		acked = append(acked, ack.Seq)
	}
	appendOn(a, "bid1")
	if recs := replayAll(t, c, lot); len(recs) != 1 || string(recs[0].Data) != "bid1" {
		t.Fatalf("node c replays %d records; want bid1", len(recs))
	}
	_ = b.Close()
	appendOn(a, "bid2")
	appendOn(c, "bid3")
	restarted, err := openNodes(t, cfgs[1:2])
	if err != nil {
		t.Fatal(err)
	}
	back := restarted[0]
	waitFor(t, 20*time.Second, "the restarted node to catch up", func() bool {
		var n int
		_ = back.Replay(context.Background(), lot, 0, func(Record) error { n++; return nil })
		return n == 3
	})
	var data []string
	for _, r := range replayAll(t, back, lot) {
		data = append(data, string(r.Data))
	}
	if strings.Join(data, ",") != "bid1,bid2,bid3" || len(acked) != 3 {
		t.Fatalf("restarted node replays %v (acked %v); want bid1,bid2,bid3", data, acked)
	}

	// A cluster node's directory is not run alone: its replicas would be lost from view.
	_ = back.Close()
	alone := cfgs[1]
	alone.Cluster = ClusterConfig{}
	if n, err := Open(context.Background(), alone, zaptest.NewLogger(t)); err == nil {
		_ = n.Close()
		t.Fatal("a cluster node's data directory was opened alone")
	} else if !strings.Contains(err.Error(), "is a cluster node's") {
		t.Fatalf("error %q does not say the directory is a cluster node's", err)
	}
}

// TestClusterRefusesSingleNodeData: a data directory with a single node's records is not
// turned into a cluster node, whose streams would start empty beside them: Open refuses
// and says why, and the records are still there alone.
func TestClusterRefusesSingleNodeData(t *testing.T) {
	dir := t.TempDir()
	single := openTest(t, dir, nil)
	if _, err := single.Append(context.Background(), AuctionLog("r", "lot"), []byte("bid"), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = single.Close()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	cfg.Cluster = testCluster("127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:2")
	if b, err := Open(context.Background(), cfg, zaptest.NewLogger(t)); err == nil {
		_ = b.Close()
		t.Fatal("a single node's data directory joined a cluster")
	} else if !strings.Contains(err.Error(), "holds a single node's records") {
		t.Fatalf("error %q does not say why", err)
	}
	again := openTest(t, dir, nil)
	if recs := replayAll(t, again, AuctionLog("r", "lot")); len(recs) != 1 {
		t.Fatalf("%d records alone after the refusal; want 1", len(recs))
	}
}

// TestClusterSelfAndNodeName: this node's own address among the routes is not another
// node, spelled as Listen or, with Listen on every interface, as a local address; a
// made-up node name is kept in the data directory and reused.
func TestClusterSelfAndNodeName(t *testing.T) {
	c := testCluster("0.0.0.0:6222", "127.0.0.1:6222", "192.0.2.10:6222", "192.0.2.11:6222", "192.0.2.11:6222", "127.0.0.1:6223")
	if n := c.Nodes(); n != 4 {
		t.Fatalf("nodes %d; want 4 (self, two remote hosts, and a second node on this host's port 6223)", n)
	}
	if c := testCluster("127.0.0.1:6222", "127.0.0.1:6222"); c.validate() == nil {
		t.Fatal("a cluster of only this node validated")
	}
	dir := t.TempDir()
	first, err := c.nodeName(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := c.nodeName(dir); again != first {
		t.Fatalf("node name %q after a restart; want %q kept", again, first)
	}
	if other, _ := c.nodeName(t.TempDir()); other == first {
		t.Fatalf("two data directories made the same node name %q", first)
	}
}

// TestClusterNodeAloneFailsToStart: a node whose routes lead nowhere cannot form the
// cluster's JetStream and says so within cluster.join_timeout, rather than serving with a
// bus that cannot store.
func TestClusterNodeAloneFailsToStart(t *testing.T) {
	cfgs := clusterConfigs(t, 3)
	cfg := cfgs[0]
	cfg.Cluster.JoinTimeout = 3 * time.Second
	start := time.Now()
	b, err := Open(context.Background(), cfg, zaptest.NewLogger(t))
	if err == nil {
		_ = b.Close()
		t.Fatal("a node alone in a cluster of three started")
	}
	if !strings.Contains(err.Error(), "did not take it within 3s") {
		t.Fatalf("error %q does not say the cluster did not form", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("took %v to give up; want about the join timeout", d)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterPortTakenFailsAtOnce: a cluster port another process holds fails the start
// at once with nats-server's reason, not after a 30 s wait for a server that gave up.
func TestClusterPortTakenFailsAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Cluster = testCluster(l.Addr().String(), l.Addr().String(), "127.0.0.1:1")
	start := time.Now()
	b, err := Open(context.Background(), cfg, zaptest.NewLogger(t))
	if err == nil {
		_ = b.Close()
		t.Fatal("started on a cluster port in use")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("error %q does not give the reason", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v to fail; want at once", d)
	}
}
