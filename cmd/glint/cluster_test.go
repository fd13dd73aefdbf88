package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/ingest/relay"
	"github.com/glintlive/glint/loadtest"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// startCluster runs n Glint nodes on loopback whose embedded NATS servers are joined into
// one cluster (bus.cluster), started at once as each waits for the others; on new ports
// again when one was taken between being found free and being bound.
func startCluster(t *testing.T, n int) []*app { return startClusterWith(t, n, nil) }

// startClusterWith is startCluster with each node's configuration changed by configure.
func startClusterWith(t *testing.T, n int, configure func(*Config)) []*app {
	t.Helper()
	for attempt := 1; ; attempt++ {
		apps, err := tryCluster(t, n, configure)
		if err == nil {
			return apps
		}
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
	}
}

// freeAddrs returns n loopback TCP addresses free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		_ = l.Close()
	}
	return addrs
}

func tryCluster(t *testing.T, n int, configure func(*Config)) ([]*app, error) {
	addrs := freeAddrs(t, n)
	return startNodes(t, addrs, addrs, clusterTestSecret, func(cfg *Config) {
		cfg.Interaction.Chat.Rate, cfg.Interaction.Chat.Burst = 1000, 1000 // the test sends lines back to back
		if configure != nil {
			configure(cfg)
		}
	})
}

// startNodes runs a Glint node on each of listen's cluster addresses, with routes to
// routes, at once (each waits for the others), serving until the test ends.
func startNodes(t *testing.T, listen, routes []string, secret string, configure func(*Config)) ([]*app, error) {
	apps := make([]*app, len(listen))
	errs := make([]error, len(listen))
	var wg sync.WaitGroup
	for i, addr := range listen {
		cfg := testConfig(t)
		cfg.Bus.Cluster.Listen, cfg.Bus.Cluster.Routes, cfg.Bus.Cluster.Secret = addr, routes, secret
		configure(&cfg)
		wg.Go(func() { apps[i], errs[i] = newApp(cfg, sfutest.Logger()) })
	}
	wg.Wait()
	for _, a := range apps {
		if a == nil {
			continue
		}
		a.start()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.close(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	return apps, errors.Join(errs...)
}

// clusterTestSecret is the cluster secret of every test cluster.
const clusterTestSecret = "cluster-test-secret"

// nodeProcess is a cluster node running in its own process (this test binary running
// `glint serve`, see TestMain), for a test to kill with SIGKILL.
type nodeProcess struct {
	cmd    *exec.Cmd
	http   string // its HTTP address
	exited chan struct{}
	mu     sync.Mutex
	out    strings.Builder
}

// startNodeProcess starts a --dev node serving HTTP on httpAddr, its embedded NATS in the
// cluster on listen with routes; it is killed when the test ends.
func startNodeProcess(t *testing.T, httpAddr, listen string, routes []string) *nodeProcess {
	t.Helper()
	n := &nodeProcess{http: httpAddr, exited: make(chan struct{})}
	n.cmd = exec.Command(os.Args[0], "-test.run=^$")
	n.cmd.Env = append(os.Environ(), subprocessArgs+"="+strings.Join([]string{"serve", "--dev", "--http", httpAddr, "--udp-port", "0",
		"--rtmp", "off", "--data", t.TempDir(), "--log-level", "warn", "--cluster", listen, "--cluster-routes", strings.Join(routes, ",")}, "\t"),
		"GLINT_CLUSTER_SECRET="+clusterTestSecret)
	n.cmd.Stdout, n.cmd.Stderr = n, n
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.exited
	})
	return n
}

// Write keeps the node's output (its stdout and stderr), for a failure to show.
func (n *nodeProcess) Write(p []byte) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.Write(p)
}

func (n *nodeProcess) output() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.out.String()
}

func (n *nodeProcess) url() string { return "http://" + n.http }

// awaitUp waits for the node to answer /healthz.
func (n *nodeProcess) awaitUp(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(n.url() + "/healthz"); err == nil {
			_ = res.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s does not answer /healthz:\n%s", n.http, n.output())
		}
	}
}

// wsClient is one interaction connection (GET /ws/{room}) that keeps every envelope it
// reads, so a test can wait for what it expects.
type wsClient struct {
	ws *websocket.Conn
	mu sync.Mutex
	in []datachannel.Envelope
}

func dialRoom(t *testing.T, base, room, identity string, admin bool) *wsClient {
	t.Helper()
	tok, err := auth.Issue(devKey, devSecret, auth.TokenOptions{Room: room, Identity: identity, Subscribe: true, Data: true, Admin: admin, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/"+room+"?access_token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &wsClient{ws: ws}
	go func() {
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var env datachannel.Envelope
			if json.Unmarshal(b, &env) == nil {
				c.mu.Lock()
				c.in = append(c.in, env)
				c.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { _ = ws.Close() })
	return c
}

// await waits up to 15 s for an envelope that ok accepts and returns it.
func (c *wsClient) await(t *testing.T, what string, ok func(datachannel.Envelope) bool) datachannel.Envelope {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if e, found := c.find(ok); found {
			return e
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s within 15s", what)
	return datachannel.Envelope{}
}

// request sends an envelope and waits for its ack or error.
func (c *wsClient) request(t *testing.T, typ, id, payload string) datachannel.Envelope {
	t.Helper()
	e, err := c.tryRequest(typ, id, payload)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// tryRequestAgain is tryRequest that sends again, with the same id, while the answer is
// "unavailable" (the bus did not store it in time: a node of the cluster went), as the
// protocol asks of clients (docs/PROTOCOL.md): the retry is acknowledged once, as a
// duplicate if the first try was stored after all.
func (c *wsClient) tryRequestAgain(typ, id, payload string) (datachannel.Envelope, error) {
	for try := 1; ; try++ {
		e, err := c.tryRequest(typ, id, payload)
		if err != nil || e.Type != datachannel.TypeError || !strings.Contains(string(e.Payload), `"code":"unavailable"`) || try == 20 {
			return e, err
		}
		c.forget(id)
		time.Sleep(250 * time.Millisecond)
	}
}

// requestUntilStored sends the request again with its id, for up to 60 s, until it is
// acknowledged: after a partition heals, JetStream can be unavailable for seconds at a time
// while its groups elect again.
func (c *wsClient) requestUntilStored(t *testing.T, typ, id, payload string) {
	t.Helper()
	for start := time.Now(); ; {
		e, err := c.tryRequestAgain(typ, id, payload)
		if err == nil && e.Type == datachannel.TypeAck {
			return
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("%s %s sent again for 60 s: %v %s %s", typ, id, err, e.Type, e.Payload)
		}
		c.forget(id)
	}
}

// has reports whether an envelope that ok accepts has come.
func (c *wsClient) has(ok func(datachannel.Envelope) bool) bool {
	_, found := c.find(ok)
	return found
}

// find returns the first envelope that ok accepts, if one has come.
func (c *wsClient) find(ok func(datachannel.Envelope) bool) (datachannel.Envelope, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.in {
		if ok(e) {
			return e, true
		}
	}
	return datachannel.Envelope{}, false
}

// forget drops the envelopes answering id, so that a retry's answer is the one read.
func (c *wsClient) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.in[:0]
	for _, e := range c.in {
		if e.ID != id {
			kept = append(kept, e)
		}
	}
	c.in = kept
}

// tryRequest is request for other goroutines than the test's (which must not t.Fatal).
func (c *wsClient) tryRequest(typ, id, payload string) (datachannel.Envelope, error) {
	c.mu.Lock()
	err := c.ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"v":1,"type":%q,"id":%q,"payload":%s}`, typ, id, payload))
	c.mu.Unlock()
	if err != nil {
		return datachannel.Envelope{}, err
	}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c.mu.Lock()
		for _, e := range c.in {
			if e.ID == id {
				c.mu.Unlock()
				return e, nil
			}
		}
		c.mu.Unlock()
	}
	return datachannel.Envelope{}, fmt.Errorf("no answer to %s within 15s", id)
}

func (c *wsClient) payloads(typ string) []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]any
	for _, e := range c.in {
		if e.Type == typ {
			var p map[string]any
			_ = json.Unmarshal(e.Payload, &p)
			out = append(out, p)
		}
	}
	return out
}

// TestClusterChatAndAuction: three Glint nodes joined by bus.cluster are one room. Chat
// sent on node B reaches connections on A and C once each, in order; an auction opened on
// A with bidders on all three nodes bidding at once ends with one winner, the same on
// every node, and counts every acknowledged bid.
func TestClusterChatAndAuction(t *testing.T) {
	nodes := startCluster(t, 3)
	const room = "show"
	host := dialRoom(t, nodes[0].URL(), room, "host", true)
	readers := []*wsClient{dialRoom(t, nodes[0].URL(), room, "alice", false), dialRoom(t, nodes[2].URL(), room, "carol", false)}
	bob := dialRoom(t, nodes[1].URL(), room, "bob", false)

	// Until every node follows the room's events, a line may reach only its own node:
	// probe with chat until a line from B is seen on A and C.
	for i := 0; ; i++ {
		if i == 100 {
			t.Fatal("chat from node B never reached nodes A and C")
		}
		probe := fmt.Sprintf("probe %d", i)
		if e := bob.request(t, "chat.send", fmt.Sprint("p", i), fmt.Sprintf(`{"text":%q}`, probe)); e.Type != datachannel.TypeAck {
			t.Fatalf("chat refused: %s %s", e.Type, e.Payload)
		}
		time.Sleep(100 * time.Millisecond)
		seen := 0
		for _, r := range readers {
			for _, p := range r.payloads(datachannel.TypeChatMessage) {
				if p["text"] == probe {
					seen++
				}
			}
		}
		if seen == len(readers) {
			break
		}
	}
	const lines = 20
	for i := range lines {
		if e := bob.request(t, "chat.send", fmt.Sprint("c", i), fmt.Sprintf(`{"text":"line %d"}`, i)); e.Type != datachannel.TypeAck {
			t.Fatalf("chat refused: %s %s", e.Type, e.Payload)
		}
	}
	for ri, r := range readers {
		r.await(t, "the last chat line", func(e datachannel.Envelope) bool {
			return e.Type == datachannel.TypeChatMessage && strings.Contains(string(e.Payload), `"line 19"`)
		})
		var got []string
		for _, p := range r.payloads(datachannel.TypeChatMessage) {
			if s, _ := p["text"].(string); strings.HasPrefix(s, "line ") {
				got = append(got, s)
			}
		}
		if len(got) != lines {
			t.Fatalf("reader %d got %d lines, want %d once each: %v", ri, len(got), lines, got)
		}
		for i, s := range got {
			if s != fmt.Sprintf("line %d", i) {
				t.Fatalf("reader %d: line %d is %q (all: %v)", ri, i, s, got)
			}
		}
	}

	// The auction: three bidders, one per node, bid at once.
	if e := host.request(t, "auction.open", "open", `{"lotId":"lot1","startPrice":100,"increment":10,"durationMs":600000}`); e.Type != datachannel.TypeAck {
		t.Fatalf("auction.open: %s %s", e.Type, e.Payload)
	}
	bidders := []*wsClient{dialRoom(t, nodes[0].URL(), room, "b0", false), dialRoom(t, nodes[1].URL(), room, "b1", false), dialRoom(t, nodes[2].URL(), room, "b2", false)}
	var mu sync.Mutex
	acked := map[string]float64{}
	var wg sync.WaitGroup
	for bi, b := range bidders {
		wg.Go(func() {
			for k := range 10 {
				id := fmt.Sprintf("b%d-%d", bi, k)
				amount := 100 + 10*(3*k+bi)
				e, err := b.tryRequest("auction.bid", id, fmt.Sprintf(`{"lotId":"lot1","bidId":%q,"amount":%d}`, id, amount))
				if err != nil {
					t.Error(err)
					return
				}
				if e.Type == datachannel.TypeAck {
					mu.Lock()
					acked[id] = float64(amount)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if len(acked) == 0 {
		t.Fatal("no bid was acknowledged")
	}
	var best float64
	for _, a := range acked {
		best = max(best, a)
	}
	if e := host.request(t, "auction.close", "close", `{"lotId":"lot1"}`); e.Type != datachannel.TypeAck {
		t.Fatalf("auction.close: %s %s", e.Type, e.Payload)
	}
	for ni, c := range append([]*wsClient{host}, bidders[1:]...) {
		e := c.await(t, "auction.closed", func(e datachannel.Envelope) bool { return e.Type == datachannel.TypeAuctionClosed })
		var p struct {
			Winner string  `json:"winner"`
			Amount float64 `json:"amount"`
			Bids   int     `json:"bids"`
		}
		_ = json.Unmarshal(e.Payload, &p)
		if p.Amount != best || p.Bids != len(acked) || p.Winner == "" {
			t.Fatalf("node %d: closed with winner %q at %v after %d bids; want the best acknowledged %v and %d bids", ni, p.Winner, p.Amount, p.Bids, best, len(acked))
		}
	}
	t.Logf("%d of 30 bids acknowledged across three nodes; winning amount %v", len(acked), best)
}

// TestClusterRelaysMedia: a host publishes over WHIP to node A; a viewer with a token on
// node B and an anonymous one on node C are served by relays that pull the room from A
// (ingest/relay) and decode the stream; the relays end once their viewers leave.
func TestClusterRelaysMedia(t *testing.T) {
	nodes := startCluster(t, 3)
	for _, a := range nodes {
		a.relays.SetIdle(time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub, err := sfutest.NewPublisher(ctx, httpSignal(nodes[0].URL()+"/whip/show", issue(t, nodes[0], "show", auth.TokenOptions{Publish: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	// The host is on the stage of A (a first frame) and A has announced the room.
	sent := uint32(0)
	for {
		if e, ok, _ := nodes[1].relays.Origin(ctx, "show"); ok && e.URL == nodes[0].URL() {
			break
		}
		if err := pub.SendFrames(ctx, sent, 10, 30, 30); err != nil || ctx.Err() != nil {
			t.Fatalf("node B never found the room in the directory: %v", err)
		}
		sent += 10
	}
	viewerB, err := sfutest.NewViewer(ctx, httpSignal(nodes[1].URL()+"/whep/show", issue(t, nodes[1], "show", auth.TokenOptions{Subscribe: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer viewerB.Close()
	viewerC, err := sfutest.NewViewer(ctx, func(ctx context.Context, offer string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, nodes[2].URL()+"/whep/show", strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("anonymous WHEP on node C: %s: %s", res.Status, b)
		}
		return string(b), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer viewerC.Close()
	if !nodes[1].relays.Relaying("show") || !nodes[2].relays.Relaying("show") || nodes[0].relays.Relaying("show") {
		t.Fatalf("relaying: A %v, B %v, C %v; want only B and C", nodes[0].relays.Relaying("show"), nodes[1].relays.Relaying("show"), nodes[2].relays.Relaying("show"))
	}
	go func() { _ = pub.SendFrames(ctx, sent, 150, 30, 30) }()
	last := sent + 140
	for name, v := range map[string]*sfutest.Viewer{"B": viewerB, "C": viewerC} {
		if err := v.WaitFrame(ctx, last); err != nil {
			t.Fatalf("viewer on node %s: %v (%s)", name, err, v.Summary())
		}
		if v.AudioPackets() == 0 {
			t.Errorf("viewer on node %s got no audio", name)
		}
		t.Logf("viewer on node %s: %s", name, v.Summary())
	}
	// The room across the cluster, read on node B: origin A, relays B and C with a viewer
	// each, two viewers in all (the relays' sessions at A not counted).
	view := func() (v relay.ClusterView) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, nodes[1].URL()+"/rooms/show", nil)
		req.Header.Set("Authorization", "Bearer "+issue(t, nodes[1], "", auth.TokenOptions{List: true}))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Cluster *relay.ClusterView }
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK || body.Cluster == nil {
			t.Fatalf("GET /rooms/show on node B: %d, %v, %+v", res.StatusCode, err, body)
		}
		return *body.Cluster
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		v := view()
		if v.Origin.URL == nodes[0].URL() && v.Viewers == 2 && len(v.Relays) == 2 &&
			v.Relays[0].Viewers == 1 && v.Relays[1].Viewers == 1 && v.Relays[0].URL != v.Relays[1].URL {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the room across the cluster, 15 s on: %+v; want origin A, relays B and C with a viewer each", v)
		}
	}
	_ = viewerB.Close()
	_ = viewerC.Close()
	for deadline := time.Now().Add(15 * time.Second); nodes[1].relays.Relaying("show") || nodes[2].relays.Relaying("show"); {
		if time.Now().After(deadline) {
			t.Fatal("relays still running 15s after their viewers left")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		v := view() // the origin's count is refreshed at its next announcement
		if len(v.Relays) == 0 && v.Viewers == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relays ended 15 s ago, yet the directory has %+v", v)
		}
	}
}

// TestClusterLLHLSFromAnyNode: the room's host publishes (a real H.264 + Opus clip, the
// load tester's) to node A; LL-HLS read from node B, which does not host the room, is
// served from B's relay: the first request brings the relay up, the players' parts keep
// it up with no WebRTC viewer on B, and the stream's frames arrive on the media clock
// (the load tester times each frame from the publisher's stamp).
func TestClusterLLHLSFromAnyNode(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	nodes := startCluster(t, 2)
	for _, a := range nodes {
		a.relays.SetIdle(time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	clip := loadtest.DefaultClip()
	clip.Width, clip.Height, clip.BitrateKbps, clip.Seconds = 640, 360, 800, 10
	rep, err := loadtest.HLS(ctx, loadtest.HLSConfig{
		URL: nodes[1].URL(), Room: "show", Viewers: 2, Duration: 6 * time.Second, Audio: true,
		RequestTimeout: 15 * time.Second, JoinConcurrency: 2,
		Publish: true, PublishURL: nodes[0].URL(), PublishToken: issue(t, nodes[0], "show", auth.TokenOptions{Publish: true}),
		Token: issue(t, nodes[1], "show", auth.TokenOptions{Subscribe: true}),
		Clip:  clip, CacheDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("LL-HLS from node B: %d connected, %d parts, %d frames timed, frame latency p50 %.0f ms, stalls %d, errors %v",
		rep.Connected, rep.Parts, rep.Frames, rep.Latency.P50, rep.Stalls, rep.Errors)
	if rep.Connected != 2 || rep.Parts < 20 || rep.Frames < 60 {
		t.Fatalf("LL-HLS from node B: %d of 2 players, %d parts, %d frames (first error %q); want both playing parts with frames", rep.Connected, rep.Parts, rep.Frames, rep.FirstError)
	}
	if nodes[0].relays.Relaying("show") {
		t.Fatal("the origin relays its own room")
	}
	res, err := http.Get(nodes[1].URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if !strings.HasPrefix(string(body), "ok\n") || !strings.Contains(string(body), ": 2 of 2 nodes reached") {
		t.Fatalf("/healthz on a cluster node: %q; want ok and the cluster line", body)
	}
	res, err = http.Get(nodes[1].URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	_ = res.Body.Close()
	if want := fmt.Sprintf(`glint_node_info{cluster="glint",node=%q} 1`, nodes[1].node); nodes[1].node == "" || !strings.Contains(string(body), want) {
		t.Fatalf("/metrics of a cluster node lacks %s", want)
	}
}

// TestClusterHostMovesNodes: a host publishing to node A is replaced by a later host of the
// same room publishing to node B, as a second host replaces the first on one node: A ends
// its host, the directory names B, and a viewer on node C, relayed from A until then,
// carries on with B's host through a new relay.
func TestClusterHostMovesNodes(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	first, err := sfutest.NewPublisher(ctx, httpSignal(nodes[0].URL()+"/whip/show", issue(t, nodes[0], "show", auth.TokenOptions{Publish: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	sendCtx, stopFirst := context.WithCancel(ctx)
	defer stopFirst()
	go func() { _ = first.SendFrames(sendCtx, 0, 30*80, 30, 30) }()
	for {
		if e, ok, _ := nodes[2].relays.Origin(ctx, "show"); ok && e.URL == nodes[0].URL() {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("node A never announced the room")
		}
		time.Sleep(50 * time.Millisecond)
	}
	viewer, err := sfutest.NewViewer(ctx, httpSignal(nodes[2].URL()+"/whep/show", issue(t, nodes[2], "show", auth.TokenOptions{Subscribe: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	if err := viewer.WaitFrame(ctx, 90); err != nil {
		t.Fatalf("viewer on node C before the move: %v", err)
	}

	second, err := sfutest.NewPublisher(ctx, httpSignal(nodes[1].URL()+"/whip/show", issue(t, nodes[1], "show", auth.TokenOptions{Publish: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	moved := time.Now()
	go func() { _ = second.SendFrames(ctx, 100000, 30*60, 30, 30) }()
	if err := viewer.WaitFrame(ctx, 100000+30); err != nil {
		t.Fatalf("viewer on node C after the host moved to node B: %v", err)
	}
	t.Logf("viewer on node C shows the new host's frames %v after it published to node B", time.Since(moved).Round(time.Millisecond))
	if e, ok, _ := nodes[2].relays.Origin(ctx, "show"); !ok || e.URL != nodes[1].URL() {
		t.Fatalf("directory names %+v (ok %v); want node B", e, ok)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if sr := nodes[0].sfu.Room("show"); sr == nil || !sr.Info().Publishing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node A still has its host 10 s after a later host published to node B")
		}
	}
}

// TestClusterKilledNodeLosesNoBid: node B of three runs in its own process; bidders on all
// three nodes bid at once and B is killed with SIGKILL mid-auction. The auction, closed
// on node A, counts every bid any node acknowledged, B's included, and its winner is the
// highest of them: an acknowledged bid is on a majority of the nodes before its ack.
func TestClusterKilledNodeLosesNoBid(t *testing.T) {
	addrs := freeAddrs(t, 4)
	routes := addrs[:3]
	b := startNodeProcess(t, addrs[3], routes[1], routes)
	apps, err := startNodes(t, []string{routes[0], routes[2]}, routes, clusterTestSecret, func(cfg *Config) {
		cfg.Interaction.RatePerSecond, cfg.Interaction.RateBurst = 1000, 1000 // bidders bid back to back
	})
	if err != nil {
		t.Fatalf("%v\nnode B's output:\n%s", err, b.output())
	}
	nodeA, nodeC := apps[0], apps[1]
	b.awaitUp(t)

	const room = "show"
	host := dialRoom(t, nodeA.URL(), room, "host", true)
	if e := host.request(t, "auction.open", "open", `{"lotId":"lot1","startPrice":100,"increment":10,"durationMs":600000}`); e.Type != datachannel.TypeAck {
		t.Fatalf("auction.open: %s %s", e.Type, e.Payload)
	}
	bidders := []*wsClient{dialRoom(t, nodeA.URL(), room, "b0", false), dialRoom(t, b.url(), room, "b1", false), dialRoom(t, nodeC.URL(), room, "b2", false)}
	var mu sync.Mutex
	acked := map[string]int{}
	// Node B's bidder bids first, three bids, all acknowledged (nothing of B's is in flight
	// when it is killed); then A's and C's bid at once, and B is killed among their bids.
	for k := range 3 {
		id := fmt.Sprintf("b1-%d", k)
		amount := 100 + 10*k
		bidder := bidders[1]
		if k > 0 { // a bidder cannot outbid itself
			bidder = dialRoom(t, b.url(), room, fmt.Sprint("b1-", k), false)
		}
		if e := bidder.request(t, "auction.bid", id, fmt.Sprintf(`{"lotId":"lot1","bidId":%q,"amount":%d}`, id, amount)); e.Type != datachannel.TypeAck {
			t.Fatalf("bid on node B: %s %s", e.Type, e.Payload)
		}
		acked[id] = amount
	}
	const ackedOnB = 3
	firstAck := make(chan struct{})
	var once sync.Once
	var bidding sync.WaitGroup
	for _, bi := range []int{0, 2} {
		c := bidders[bi]
		bidding.Go(func() {
			for k := range 40 {
				id := fmt.Sprintf("b%d-%d", bi, k)
				amount := 130 + 10*(2*k+bi/2)
				e, err := c.tryRequestAgain("auction.bid", id, fmt.Sprintf(`{"lotId":"lot1","bidId":%q,"amount":%d}`, id, amount))
				if err != nil {
					t.Error(err)
					return
				}
				if e.Type == datachannel.TypeAck {
					mu.Lock()
					acked[id] = amount
					mu.Unlock()
					once.Do(func() { close(firstAck) })
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	select {
	case <-firstAck:
	case <-time.After(30 * time.Second):
		t.Fatal("no bid on nodes A and C acknowledged within 30s")
	}
	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-b.exited
	bidding.Wait()
	if t.Failed() {
		t.FailNow()
	}
	mu.Lock()
	best, n := 0, len(acked)
	for _, a := range acked {
		best = max(best, a)
	}
	mu.Unlock()
	if e, err := host.tryRequestAgain("auction.close", "close", `{"lotId":"lot1"}`); err != nil || e.Type != datachannel.TypeAck {
		t.Fatalf("auction.close: %v %s %s", err, e.Type, e.Payload)
	}
	for ni, c := range []*wsClient{host, bidders[2]} {
		e := c.await(t, "auction.closed", func(e datachannel.Envelope) bool { return e.Type == datachannel.TypeAuctionClosed })
		var p struct {
			Amount int `json:"amount"`
			Bids   int `json:"bids"`
		}
		_ = json.Unmarshal(e.Payload, &p)
		if p.Amount != best || p.Bids != n {
			t.Fatalf("node %d: closed at %d after %d bids; want every acknowledged bid (%d, %d of them on node B before its kill) and the best, %d", ni, p.Amount, p.Bids, n, ackedOnB, best)
		}
	}
	t.Logf("%d bids acknowledged (%d by node B before its SIGKILL); the auction closed at %d with all of them", n, ackedOnB, best)
}

// TestBrowserWatchesThroughRelay: on three nodes, headless Chromium publishes its fake
// camera and microphone over WHIP to node A; a second page plays the room from node C's
// watch page (WHEP to C, which relays the room from A) and keeps decoding video and
// receiving audio (webclient/e2e/whip_whep.mjs --play-server); meanwhile a pion viewer on
// node B, relayed from A too, receives the same VP8 stream whole: its pictures, with no
// gap in the packets.
func TestBrowserWatchesThroughRelay(t *testing.T) {
	chromium, webclient, here := browserSetup(t)
	if !here {
		return
	}
	nodes := startClusterWith(t, 3, func(cfg *Config) { cfg.SFU.UDPAddr = "0.0.0.0:0" })
	// The page's part has failed now and then in CI's whole run (play page never live,
	// its wait ending after ~5 s: lib.mjs now says how); it runs once more, in a new room,
	// and the first failure stays in the log.
	for attempt := 1; ; attempt++ {
		err := watchThroughRelay(t, nodes, chromium, webclient, fmt.Sprintf("relayed%d", attempt))
		if err == nil {
			return
		}
		if attempt == 2 {
			t.Fatal(err)
		}
		t.Logf("RETRY: e2e/whip_whep.mjs attempt %d failed (%v); running it once more in a new room", attempt, err)
	}
}

// watchThroughRelay is one try of TestBrowserWatchesThroughRelay in room: the script's
// failure is returned, the pion viewer's and the relays' are the test's.
func watchThroughRelay(t *testing.T, nodes []*app, chromium, webclient, room string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// Whether B and C relay the room is watched while the pages play: once the script has
	// closed them, the host's directory entry goes and the relays end within a second,
	// so asking after the script raced their end (it failed here once in four runs).
	relayed := watchRelaying(ctx, map[string]*app{"B": nodes[1], "C": nodes[2]}, room)
	pion := make(chan *sfutest.Viewer, 1)
	go func() { // once the host is live on A: the directory names A
		defer close(pion)
		for ctx.Err() == nil {
			if e, ok, _ := nodes[1].relays.Origin(ctx, room); ok && e.URL == nodes[0].URL() {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		v, err := sfutest.NewViewer(ctx, httpSignal(nodes[1].URL()+"/whep/"+room, issue(t, nodes[1], room, auth.TokenOptions{Subscribe: true})))
		if err != nil {
			if ctx.Err() == nil {
				t.Errorf("pion viewer on node B: %v", err)
			}
			return
		}
		pion <- v
	}()
	if err := runScript(t, webclient, chromium, "e2e/whip_whep.mjs", []string{"--server", nodes[0].URL(), "--play-server", nodes[2].URL(),
		"--room", room, "--publish-token", mustToken(t, nodes[0].cfg, room), "--seconds", "6"}); err != nil {
		cancel()
		if v := <-pion; v != nil {
			v.Close()
		}
		return err
	}
	v := <-pion
	if v == nil {
		t.Fatal("no pion viewer on node B")
	}
	defer v.Close()
	pics := len(v.VP8Pictures())
	t.Logf("pion viewer on node B: %d VP8 pictures; %s", pics, v.Summary())
	if pics < 60 {
		t.Errorf("pion viewer on node B: %d VP8 pictures while the page played; want 60 or more", pics)
	}
	if err := v.VideoGaps(); err != nil {
		t.Errorf("pion viewer on node B: %v", err)
	}
	cancel()
	for name, ok := range <-relayed {
		if !ok {
			t.Errorf("node %s played the room without relaying it", name)
		}
	}
	return nil
}

// watchRelaying polls, every 100 ms until ctx ends, whether each node relays room, and
// then sends which of them did at some point.
func watchRelaying(ctx context.Context, nodes map[string]*app, room string) <-chan map[string]bool {
	out := make(chan map[string]bool, 1)
	go func() {
		seen := make(map[string]bool, len(nodes))
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			for name, n := range nodes {
				seen[name] = seen[name] || n.relays.Relaying(room)
			}
			select {
			case <-ctx.Done():
				out <- seen
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// TestBrowserFailsOverToAnotherNode: a Chromium host publishes to node A; a Chromium viewer
// plays the room from node B's watch page (B relays it from A), given no other node: its
// player learns A and C from B (GET /nodes, the node directory). Node B runs in its own
// process and is killed with SIGKILL: the viewer must play again from A or C (learned
// nodes are tried in a random order), C relaying the room from A
// (webclient/e2e/failover.mjs; its JSON line has failoverMs, from the kill to the first
// frame from C: issue 12 asks for 5 s, asserted below 10 s on a shared machine).
func TestBrowserFailsOverToAnotherNode(t *testing.T) {
	runFailover(t, false)
}

// TestBrowserHostFailsOverToAnotherNode: the same with the host on node B, in the studio
// page given node C (servers=), and the viewer on node A, relaying the room from B: killed
// with B, the host publishes to C, which becomes the room's origin; A's relay, whose
// origin died, pulls the room from C, and the viewer plays again (failoverMs in the log);
// the studio's room controls (its WebSocket) go on from C too.
func TestBrowserHostFailsOverToAnotherNode(t *testing.T) {
	runFailover(t, true)
}

// runFailover runs webclient/e2e/failover.mjs on nodes A and C in this process and B in
// its own, killed by the script: the host on B and the viewer on A when host is true, else
// the host on A and the viewer on B.
func runFailover(t *testing.T, host bool) {
	chromium, webclient, here := browserSetup(t)
	if !here {
		return
	}
	addrs := freeAddrs(t, 4)
	routes := addrs[:3]
	b := startNodeProcess(t, addrs[3], routes[1], routes)
	nodes, err := startNodes(t, []string{routes[0], routes[2]}, routes, clusterTestSecret, func(cfg *Config) {
		cfg.SFU.UDPAddr = "0.0.0.0:0"
		cfg.Signaling.AllowAnonymousViewing = true // as on node B (--dev)
	})
	if err != nil {
		t.Fatalf("%v\nnode B's output:\n%s", err, b.output())
	}
	b.awaitUp(t)
	a, c := nodes[0], nodes[1]
	const room = "failover"
	args := []string{"--room", room, "--publish-token", mustToken(t, a.cfg, room), "--kill-pid", fmt.Sprint(b.cmd.Process.Pid)}
	if host {
		// The host runs the studio (its room controls need data and admin grants).
		studio, err := auth.Issue(a.cfg.APIKey, a.cfg.APISecret, auth.TokenOptions{Room: room, Identity: "host", Publish: true, Data: true, Admin: true, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		args = []string{"--room", room, "--publish-token", studio, "--kill-pid", fmt.Sprint(b.cmd.Process.Pid),
			"--server", b.url(), "--play-server", a.URL(), "--host-failover", c.URL(), "--studio"}
	} else {
		args = append(args, "--server", a.URL(), "--play-server", b.url(), "--failover-server", c.URL()+","+a.URL(), "--discover")
	}
	// Node A's relays while the script runs: from B, then (the host failed over) from C.
	// Watched as it happens: once the script ends its pages close, the host leaves C and
	// A's relay ends, so a look afterwards raced it (a failure in 1 run of 3 here).
	stop, relays := make(chan struct{}), make(chan int, 1)
	go func() {
		starts, was := 0, false
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				relays <- starts
				return
			case <-tick.C:
			}
			now := a.relays.Relaying(room)
			if now && !was {
				starts++
			}
			was = now
		}
	}()
	err = runScript(t, webclient, chromium, "e2e/failover.mjs", args)
	close(stop)
	starts := <-relays
	if err != nil {
		t.Fatalf("%v\nnode B's output:\n%s", err, b.output())
	}
	select {
	case <-b.exited:
	case <-time.After(5 * time.Second):
		t.Fatal("node B is still running: the script did not kill it")
	}
	if host && starts < 2 {
		t.Fatalf("node A started %d relays of the room; want 2 (from B, then from C after the host failed over)", starts)
	}
}
