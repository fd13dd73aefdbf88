package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// cutLink is a TCP relay on loopback that can be cut (every connection through it closed,
// new ones refused) and restored: one node's NATS route to another, to split a cluster
// without root or network namespaces.
type cutLink struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startCutLink(t *testing.T, target string) *cutLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &cutLink{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	l.wg.Go(l.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		l.setCut(true)
		l.wg.Wait()
	})
	return l
}

func (l *cutLink) addr() string { return l.ln.Addr().String() }

func (l *cutLink) accept() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.wg.Go(func() { l.relay(c) })
	}
}

// track registers c unless the link is cut.
func (l *cutLink) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *cutLink) relay(client net.Conn) {
	defer client.Close()
	if !l.track(client) {
		return
	}
	server, err := net.DialTimeout("tcp", l.target, time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	if !l.track(server) {
		return
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(server, client)
		_ = server.Close()
		close(done)
	}()
	_, _ = io.Copy(client, server)
	_ = client.Close()
	<-done
	l.mu.Lock()
	delete(l.conns, client)
	delete(l.conns, server)
	l.mu.Unlock()
}

// setCut cuts the link (closing what goes through it) or restores it.
func (l *cutLink) setCut(cut bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cut = cut
	if cut {
		for c := range l.conns {
			_ = c.Close()
		}
		clear(l.conns)
	}
}

// splitCluster is three nodes whose NATS routes to each other each go through a cutLink.
type splitCluster struct {
	nodes []*app
	links map[[2]int]*cutLink // [from, to]: from's route to to
}

func startSplitCluster(t *testing.T) *splitCluster {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addrs := freeAddrs(t, 3)
		c := &splitCluster{links: map[[2]int]*cutLink{}}
		for i := range 3 {
			for j := range 3 {
				if i != j {
					c.links[[2]int{i, j}] = startCutLink(t, addrs[j])
				}
			}
		}
		nodes, err := startNodes(t, addrs, addrs, clusterTestSecret, func(cfg *Config) {
			i := slices.Index(addrs, cfg.Bus.Cluster.Listen)
			cfg.Bus.Cluster.Routes = nil
			for j := range 3 {
				if j != i {
					cfg.Bus.Cluster.Routes = append(cfg.Bus.Cluster.Routes, c.links[[2]int{i, j}].addr())
				}
			}
			// Nodes tell each other the route addresses they know (cluster.advertise), and a
			// node told of one it has no route to connects there directly, around the
			// links. Advertising an address nothing listens on keeps every route on them.
			cfg.Bus.Cluster.Advertise = deadAddr
			cfg.Interaction.Chat.Rate, cfg.Interaction.Chat.Burst = 1000, 1000
		})
		if err == nil {
			c.nodes = nodes
			return c
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

// deadAddr is a loopback address nothing listens on (port 1, tcpmux, is never served here).
const deadAddr = "127.0.0.1:1"

// isolate cuts (or with false restores) every route between node i and the others.
func (c *splitCluster) isolate(i int, cut bool) {
	for pair, l := range c.links {
		if pair[0] == i || pair[1] == i {
			l.setCut(cut)
		}
	}
}

// waitPeers waits until node i sees want nodes in its cluster, itself included.
func (c *splitCluster) waitPeers(t *testing.T, i, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, _, n, _ := c.nodes[i].bus.ClusterStatus()
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d sees %d nodes after %v, want %d", i, n, within, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterSplitHeals: node C of three is cut off from A and B (every NATS route between
// them closed, as a partition of the cluster's network would; media between nodes is not
// cut) while it hosts a room that a viewer on A watches through a relay. During the split
// the host moves to node A; a bid on A, the majority's side, is acknowledged, and a bid on
// C is refused (unavailable), never acknowledged. When the routes come back the cluster
// heals without a duplicate room: C, whose host is older, ends it and relays A's host to
// its own viewer; the directory names A on every node; C's bid, sent again with the same
// id, counts once; the lot closes after both bids, alike on A and C; chat from C reaches A
// again.
func TestClusterSplitHeals(t *testing.T) {
	c := startSplitCluster(t)
	a, cNode := c.nodes[0], c.nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	first, err := sfutest.NewPublisher(ctx, httpSignal(cNode.URL()+"/whip/show", issue(t, cNode, "show", auth.TokenOptions{Publish: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	go func() { _ = first.SendFrames(ctx, 0, 30*140, 30, 30) }()
	waitOrigin(ctx, t, a, "show", cNode.URL())
	watchOn := func(n *app) *sfutest.Viewer {
		v, err := sfutest.NewViewer(ctx, httpSignal(n.URL()+"/whep/show", issue(t, n, "show", auth.TokenOptions{Subscribe: true})))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = v.Close() })
		if err := v.WaitFrame(ctx, 30); err != nil {
			t.Fatal(err)
		}
		return v
	}
	onA, onC := watchOn(a), watchOn(cNode)

	host := dialRoom(t, a.URL(), "show", "host", true)
	bidA := dialRoom(t, a.URL(), "show", "alice", false)
	bidC := dialRoom(t, cNode.URL(), "show", "carol", false)
	if e := host.request(t, "auction.open", "open", `{"lotId":"lot1","startPrice":100,"increment":10,"durationMs":600000}`); e.Type != datachannel.TypeAck {
		t.Fatalf("auction.open: %s %s", e.Type, e.Payload)
	}
	bidC.await(t, "the lot on node C", func(e datachannel.Envelope) bool { return e.Type == datachannel.TypeAuctionState })

	// The split.
	c.isolate(2, true)
	c.waitPeers(t, 2, 1, 15*time.Second)
	c.waitPeers(t, 0, 2, 15*time.Second)
	split := time.Now()
	if e, err := bidA.tryRequestAgain("auction.bid", "a1", `{"lotId":"lot1","bidId":"a1","amount":200}`); err != nil || e.Type != datachannel.TypeAck {
		t.Fatalf("bid on node A (the majority) during the split: %v %s %s", err, e.Type, e.Payload)
	}
	if e, err := bidC.tryRequest("auction.bid", "c1", `{"lotId":"lot1","bidId":"c1","amount":300}`); err != nil || e.Type != datachannel.TypeError ||
		!strings.Contains(string(e.Payload), `"code":"unavailable"`) {
		t.Fatalf("bid on node C (cut off) during the split: %v %s %s; want the error unavailable", err, e.Type, e.Payload)
	}
	second, err := sfutest.NewPublisher(ctx, httpSignal(a.URL()+"/whip/show", issue(t, a, "show", auth.TokenOptions{Publish: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	go func() { _ = second.SendFrames(ctx, 100000, 30*120, 30, 30) }()
	if err := onA.WaitFrame(ctx, 100000+30); err != nil {
		t.Fatalf("viewer on node A after the host moved there during the split: %v", err)
	}
	waitOrigin(ctx, t, a, "show", a.URL())
	t.Logf("split for %v", time.Since(split).Round(time.Millisecond))

	// The heal.
	c.isolate(2, false)
	healed := time.Now()
	c.waitPeers(t, 2, 3, 30*time.Second)
	if err := onC.WaitFrame(ctx, 100000+30); err != nil {
		t.Fatalf("viewer on node C after the heal: %v", err)
	}
	t.Logf("viewer on node C shows node A's host %v after the routes came back", time.Since(healed).Round(time.Millisecond))
	waitOrigin(ctx, t, cNode, "show", a.URL())
	if cNode.relays.Hosting("show") {
		t.Fatal("node C still hosts the room after the heal: two origins")
	}
	// JetStream may be unavailable for a while after a heal: the cut-off node campaigned
	// alone at ever higher terms, and rejoining makes the meta and stream groups elect
	// again. A client retries with the same id (docs/PROTOCOL.md) until it is stored.
	bidC.requestUntilStored(t, "auction.bid", "c1", `{"lotId":"lot1","bidId":"c1","amount":300}`)
	t.Logf("node C's bid acknowledged %v after the routes came back", time.Since(healed).Round(time.Millisecond))
	// The elections may make JetStream unavailable again a moment later (seen in a run):
	// the close is sent again with its id as well.
	host.requestUntilStored(t, "auction.close", "close", `{"lotId":"lot1"}`)
	stored := time.Now()
	for name, cl := range map[string]*wsClient{"A": host, "C": bidC} {
		closed := cl.await(t, "auction.closed on node "+name, func(e datachannel.Envelope) bool { return e.Type == datachannel.TypeAuctionClosed })
		t.Logf("auction.closed on node %s %v after the close was acknowledged", name, time.Since(stored).Round(time.Millisecond))
		var p struct {
			Winner string  `json:"winner"`
			Amount float64 `json:"amount"`
			Bids   int     `json:"bids"`
		}
		_ = json.Unmarshal(closed.Payload, &p)
		if p.Winner != "carol" || p.Amount != 300 || p.Bids != 2 { // A's bid from the split and C's, once
			t.Errorf("auction.closed on node %s: %s; want carol's 300 after 2 bids", name, closed.Payload)
		}
	}
	// Chat between nodes is fire and forget (core NATS, datachannel/bus): a line published
	// while the healed routes are still being set up is lost, by design, as one published
	// during the split was. What must hold is that chat flows again: a line a second from
	// C until one reaches a new reader on A, for at most 20 s. (A run in CI lost the one
	// line it sent 4 s after the heal.)
	reader := dialRoom(t, a.URL(), "show", "rita", false)
	healedChat := func(e datachannel.Envelope) bool {
		return e.Type == datachannel.TypeChatMessage && strings.Contains(string(e.Payload), "healed")
	}
	for try := 1; !reader.has(healedChat); try++ {
		if try > 20 {
			t.Fatalf("no chat from node C reached node A in 20 lines over 20 s after the heal")
		}
		if e, err := bidC.tryRequest("chat.send", fmt.Sprintf("hi%d", try), `{"text":"healed"}`); err != nil {
			t.Fatal(err)
		} else if e.Type != datachannel.TypeAck {
			t.Logf("chat.send %d on node C: %s %s", try, e.Type, e.Payload)
		}
		for wait := time.Now().Add(time.Second); time.Now().Before(wait) && !reader.has(healedChat); {
			time.Sleep(20 * time.Millisecond)
		}
		if reader.has(healedChat) && try > 1 {
			t.Logf("node C's chat reached node A with line %d, %v after the heal", try, time.Since(healed).Round(time.Millisecond))
		}
	}
}

// waitOrigin waits until node n's directory names url as room's origin.
func waitOrigin(ctx context.Context, t *testing.T, n *app, room, url string) {
	t.Helper()
	for {
		e, ok, err := n.relays.Origin(ctx, room)
		if err == nil && ok && e.URL == url {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("node %s never named %s as the origin of %s (last: %+v, %v, %v)", n.URL(), url, room, e, ok, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
