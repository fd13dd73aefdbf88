package datachannel

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/auction"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/signaling/auth"
)

const childEnv = "GLINT_DATACHANNEL_CHILD_DIR"

// runChild is the server of the durability test: an embedded NATS bus on dir and a hub,
// driven over stdin/stdout with lines "identity<TAB>envelope". It exits when stdin closes.
func runChild(dir string) int {
	cfg := bus.DefaultConfig()
	cfg.DataDir = dir
	b, err := bus.Open(context.Background(), cfg, zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: bus:", err)
		return 1
	}
	defer b.Close()
	hc := DefaultConfig()
	hc.RatePerSecond, hc.RateBurst = 100000, 100000
	h, err := NewHub(hc, b, Options{}, zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: hub:", err)
		return 1
	}
	defer h.Close()
	out := &lineWriter{w: bufio.NewWriter(os.Stdout)}
	conns := map[string]*Conn{}
	out.line("-", "ready")
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64<<10), 64<<10)
	for in.Scan() {
		who, msg, _ := strings.Cut(in.Text(), "\t")
		c := conns[who]
		if c == nil {
			cl := &auth.Claims{Identity: who, Room: room1, RoomJoin: true, CanPublishData: true, RoomAdmin: who == "host"}
			if c, err = h.Join(room1, cl, &childTransport{who: who, out: out}); err != nil {
				fmt.Fprintln(os.Stderr, "child: join:", err)
				return 1
			}
			conns[who] = c
		}
		_ = c.Receive([]byte(msg))
	}
	return 0
}

type lineWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lineWriter) line(who, msg string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.WriteString(who + "\t" + msg + "\n"); err != nil {
		return err
	}
	return l.w.Flush()
}

type childTransport struct {
	who string
	out *lineWriter
}

func (t *childTransport) Write(b []byte) error { return t.out.line(t.who, string(b)) }
func (t *childTransport) Close() error         { return nil }

// child is a running server process, seen from the test.
type child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	inMu sync.Mutex
	msgs chan childMsg
	done chan struct{}
}

type childMsg struct {
	who string
	env Envelope
}

func startChild(t *testing.T, dir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, in: in, msgs: make(chan childMsg, 100000), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer close(c.msgs)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			who, msg, _ := strings.Cut(sc.Text(), "\t")
			var env Envelope
			if who != "-" && json.Unmarshal([]byte(msg), &env) != nil {
				continue
			}
			if who == "-" {
				env.Type = msg
			}
			c.msgs <- childMsg{who: who, env: env}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
	})
	c.await(t, func(m childMsg) bool { return m.who == "-" && m.env.Type == "ready" })
	return c
}

// send writes one message as who; an error means the child is gone.
func (c *child) send(who string, env *Envelope) error {
	env.V = Version
	b, _ := json.Marshal(env)
	c.inMu.Lock()
	defer c.inMu.Unlock()
	_, err := c.in.Write(append([]byte(who+"\t"), append(b, '\n')...))
	return err
}

// await returns the first message ok accepts; the bound only keeps a broken test from
// hanging.
func (c *child) await(t *testing.T, ok func(childMsg) bool) childMsg {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case m, open := <-c.msgs:
			if !open {
				t.Fatal("child exited")
			}
			if ok(m) {
				return m
			}
		case <-deadline:
			t.Fatal("nothing from the child within 60s")
		}
	}
}

type sentBid struct {
	bidder string
	amount int64
}

// TestDurabilitySIGKILL kills the server process in the middle of an auction with bids
// in flight, restarts it on the same data directory, and checks that every bid that was
// acknowledged is in the log exactly once, that retries of bids acknowledged or in flight
// are not applied twice, and that the auction continues and closes with the right winner.
func TestDurabilitySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	srv := startChild(t, dir)
	if err := srv.send("host", &Envelope{Type: TypeAuctionOpen, ID: "open", Payload: mustPayload(auctionOpen{
		LotID: "lot", StartPrice: 100, Increment: 10, DurationMs: 8000, SnipeWindowMs: 1000, SnipeExtendMs: 1000})}); err != nil {
		t.Fatal(err)
	}
	srv.await(t, func(m childMsg) bool { return m.env.Type == TypeAck && m.env.ID == "open" })

	// Bidders take turns, each bid one increment above the last, sent without waiting,
	// so when the server dies some are acked, some stored but not acked, some not stored.
	bidders := []string{"ann", "ben", "cat", "dan", "eve"}
	var mu sync.Mutex
	sent := map[string]sentBid{}
	var order []string
	stop := make(chan struct{})
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		for k := 0; k < 100000; k++ {
			select {
			case <-stop:
				return
			default:
			}
			who, id, amount := bidders[k%len(bidders)], fmt.Sprint("bid-", k), int64(100+10*k)
			mu.Lock()
			sent[id] = sentBid{who, amount}
			order = append(order, id)
			mu.Unlock()
			if srv.send(who, bidEnv("lot", id, amount, time.Now().UnixMilli())) != nil {
				return
			}
			if k%8 == 7 {
				time.Sleep(time.Millisecond) // keep a few bids in flight, not thousands
			}
		}
	}()
	acked := map[string]uint64{}
	for len(acked) < 40 {
		m := srv.await(t, func(m childMsg) bool { return m.env.Type == TypeAck || m.env.Type == TypeError })
		if m.env.Type == TypeAck && strings.HasPrefix(m.env.ID, "bid-") {
			acked[m.env.ID] = uint64(num(payloadOf(t, &m.env)["logSeq"]))
		}
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Acks already written by the server before it died still count as acknowledged.
	for m := range srv.msgs {
		if m.env.Type == TypeAck && strings.HasPrefix(m.env.ID, "bid-") {
			acked[m.env.ID] = uint64(num(payloadOf(t, &m.env)["logSeq"]))
		}
	}
	close(stop)
	<-senderDone
	mu.Lock()
	t.Logf("killed the server with %d bids sent, %d acknowledged", len(sent), len(acked))
	mu.Unlock()

	// Every acknowledged bid is in the log, once, at the sequence its ack named.
	recs := readLot(t, dir)
	checkLog(t, recs, acked)
	stored := map[string]uint64{} // acknowledged or not: what the log has
	for _, r := range recs {
		if r.Kind == auction.KindBid {
			stored[r.Bid.ID] = r.seq
		}
	}

	// Restart on the same directory; retry every bid ever sent, in order, as clients do.
	srv2 := startChild(t, dir)
	mu.Lock()
	retries := append([]string(nil), order...)
	mu.Unlock()
	for _, id := range retries {
		s := sent[id]
		if err := srv2.send(s.bidder, bidEnv("lot", id, s.amount, 0)); err != nil {
			t.Fatal(err)
		}
		m := srv2.await(t, func(m childMsg) bool { return (m.env.Type == TypeAck || m.env.Type == TypeError) && m.env.ID == id })
		// A bid in the log, whether or not its ack got out before the kill, is answered
		// as a duplicate at its sequence; the rest are judged afresh.
		if seq, ok := stored[id]; ok {
			p := payloadOf(t, &m.env)
			if m.env.Type != TypeAck || p["duplicate"] != true || uint64(num(p["logSeq"])) != seq {
				t.Fatalf("retry of stored %s (acknowledged: %v): %s %s, want a duplicate ack at seq %d", id, acked[id] != 0, m.env.Type, m.env.Payload, seq)
			}
		}
	}
	// The auction continues: a new bid above everything, unless the lot already ran out.
	recs = readLotFrom(t, srv2, "lot")
	high := recs[len(recs)-1].Bid
	final := "final"
	if err := srv2.send("zed", bidEnv("lot", final, high.Amount+10, 0)); err != nil {
		t.Fatal(err)
	}
	fm := srv2.await(t, func(m childMsg) bool { return m.env.ID == final })
	closed := srv2.await(t, func(m childMsg) bool { return m.env.Type == TypeAuctionClosed })
	p := payloadOf(t, &closed.env)
	wantWinner, wantAmount := high.Bidder, high.Amount
	if fm.env.Type == TypeAck {
		wantWinner, wantAmount = "zed", high.Amount+10
	} else if c := payloadOf(t, &fm.env)["code"]; c != CodeClosed {
		t.Fatalf("final bid: %s", fm.env.Payload)
	}
	if p["winner"] != wantWinner || num(p["amount"]) != wantAmount {
		t.Fatalf("closed %v, want %s at %d", p, wantWinner, wantAmount)
	}
	_ = srv2.in.Close() // a clean exit this time
	<-srv2.done
	recs = readLot(t, dir)
	checkLog(t, recs, acked)
	if last := recs[len(recs)-1]; last.Kind != auction.KindClose {
		t.Fatalf("the log does not end with the close: %+v", last)
	}
}

// readLot opens the data directory after the server is gone and reads the lot's log.
func readLot(t *testing.T, dir string) []lotRec {
	t.Helper()
	cfg := bus.DefaultConfig()
	cfg.DataDir = dir
	b, err := bus.Open(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var out []lotRec
	err = b.Replay(context.Background(), bus.AuctionLog(room1, "lot"), 0, func(r bus.Record) error {
		var ar auction.Record
		if err := json.Unmarshal(r.Data, &ar); err != nil {
			return err
		}
		out = append(out, lotRec{Record: ar, seq: r.Seq})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readLotFrom asks a running server for the lot's state, as records would describe it:
// only the high bid is known, which is what the test needs.
func readLotFrom(t *testing.T, c *child, lot string) []lotRec {
	t.Helper()
	if err := c.send("watcher", &Envelope{Type: TypeSync, ID: "sync"}); err != nil {
		t.Fatal(err)
	}
	m := c.await(t, func(m childMsg) bool { return m.who == "watcher" && m.env.Type == TypeAuctionState })
	p := payloadOf(t, &m.env)
	return []lotRec{{Record: auction.Record{Kind: auction.KindBid, Bid: &auction.Bid{Bidder: p["highBidder"].(string), Amount: num(p["highAmount"])}}}}
}

type lotRec struct {
	auction.Record
	seq uint64
}

// checkLog: one open first, bids strictly increasing by at least the increment, no bid
// twice, every acknowledged bid present at the sequence its ack named, at most one close
// and nothing after it.
func checkLog(t *testing.T, recs []lotRec, acked map[string]uint64) {
	t.Helper()
	if len(recs) == 0 || recs[0].Kind != auction.KindOpen {
		t.Fatalf("log does not start with the open: %+v", recs)
	}
	at := map[string]uint64{}
	var last int64
	closes := 0
	for _, r := range recs[1:] {
		if closes > 0 {
			t.Fatalf("record after the close: %+v", r)
		}
		switch r.Kind {
		case auction.KindClose:
			closes++
		case auction.KindBid:
			if _, dup := at[r.Bid.ID]; dup {
				t.Fatalf("bid %s twice in the log", r.Bid.ID)
			}
			at[r.Bid.ID] = r.seq
			if r.Bid.Amount < last+10 {
				t.Fatalf("bid %s of %d after %d", r.Bid.ID, r.Bid.Amount, last)
			}
			last = r.Bid.Amount
		}
	}
	for id, seq := range acked {
		if got, ok := at[id]; !ok || got != seq {
			t.Fatalf("acknowledged bid %s (seq %d) is in the log at %d (present: %v)", id, seq, got, ok)
		}
	}
	t.Logf("log: %d bids, %d acknowledged before the kill, %d close", len(at), len(acked), closes)
}

// TestOverdueLotClosedOnRestart kills the server with a lot open and a bid on it, lets
// the lot's deadline pass while the server is down, and restarts it as two hubs on the
// same data directory (two nodes recovering one room). The first auction.state a joiner
// of either receives already shows the lot sold, and the log holds one close.
func TestOverdueLotClosedOnRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	dir := t.TempDir()
	srv := startChild(t, dir)
	if err := srv.send("host", &Envelope{Type: TypeAuctionOpen, ID: "open", Payload: mustPayload(auctionOpen{
		LotID: "lot", StartPrice: 100, Increment: 10, DurationMs: 1500})}); err != nil {
		t.Fatal(err)
	}
	srv.await(t, func(m childMsg) bool { return m.env.Type == TypeAck && m.env.ID == "open" })
	if err := srv.send("ann", bidEnv("lot", "a1", 100, 0)); err != nil {
		t.Fatal(err)
	}
	ack := srv.await(t, func(m childMsg) bool { return m.env.ID == "a1" })
	if ack.env.Type != TypeAck {
		t.Fatalf("bid: %s %s", ack.env.Type, ack.env.Payload)
	}
	endsAt := time.UnixMilli(num(payloadOf(t, &ack.env)["endsAt"]))
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	time.Sleep(time.Until(endsAt) + 200*time.Millisecond) // the deadline passes while down

	cfg := bus.DefaultConfig()
	cfg.DataDir = dir
	b, err := bus.Open(context.Background(), cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	hubs := []*Hub{newTestHub(t, hubOpts{bus: b}), newTestHub(t, hubOpts{bus: b})}
	states := make(chan map[string]any, len(hubs))
	var wg sync.WaitGroup
	for i, h := range hubs {
		wg.Add(1)
		go func() { // both rooms restore at once, as two nodes would
			defer wg.Done()
			conn, err := h.Join(room1, claims(fmt.Sprint("viewer", i), false, false), newFake(false))
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			c := &client{t: t, conn: conn, tr: conn.t.(*fakeTransport)}
			states <- payloadOf(t, c.next(TypeAuctionState))
		}()
	}
	wg.Wait()
	close(states)
	for st := range states {
		if st["open"] != false || st["sold"] != true || st["winner"] != "ann" {
			t.Errorf("first auction.state after the restart: %v, want the lot sold to ann", st)
		}
	}
	for _, h := range hubs {
		h.Close()
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readLot(t, dir)
	checkLog(t, recs, nil)
	if last := recs[len(recs)-1]; last.Kind != auction.KindClose {
		t.Fatalf("the log does not end with the close: %+v", last)
	}
}
