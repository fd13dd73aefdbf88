package datachannel

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel/bus"
)

// faultyBus wraps a bus; fail decides, per append, whether to refuse it before storing
// ("down") or to store it and then report an error as if the answer were lost ("lost").
// With readsDown it refuses every replay (JetStream electing after a heal), counting
// them; with eventsLost it drops every auction.state event from other nodes (core NATS
// while routes are set up again).
type faultyBus struct {
	bus.Bus
	mu          sync.Mutex
	fail        func(l bus.Log) string // "", "down" or "lost"
	readsDown   bool
	readsFailed int
	readsSlow   time.Duration // every replay's answer takes this long to come back
	readsCut    bool          // a replay gives one record, then fails (a long log read past its timeout)
	eventsLost  bool
}

func (f *faultyBus) Replay(ctx context.Context, l bus.Log, from uint64, fn func(bus.Record) error) error {
	f.mu.Lock()
	down, slow, cut := f.readsDown, f.readsSlow, f.readsCut
	if down {
		f.readsFailed++
	}
	f.mu.Unlock()
	if down {
		return errors.New("nats: API error: code=503 err_code=10008 description=JetStream system temporarily unavailable")
	}
	var recs []bus.Record
	err := f.Bus.Replay(ctx, l, from, func(r bus.Record) error { recs = append(recs, r); return nil })
	time.Sleep(slow)
	for i, r := range recs {
		if cut && i == 1 {
			return context.DeadlineExceeded
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return err
}

func (f *faultyBus) Subscribe(room, topic string, fn func(bus.Msg)) (bus.Subscription, error) {
	return f.Bus.Subscribe(room, topic, func(m bus.Msg) {
		f.mu.Lock()
		lost := f.eventsLost && m.Topic == TypeAuctionState
		f.mu.Unlock()
		if !lost {
			fn(m)
		}
	})
}

// upAfterAFailedRead waits until a replay has been refused, then lets replays through.
func (f *faultyBus) upAfterAFailedRead() {
	for failed := 0; failed == 0; time.Sleep(10 * time.Millisecond) {
		f.with(func(f *faultyBus) { failed = f.readsFailed })
	}
	f.with(func(f *faultyBus) { f.readsDown = false })
}

func (f *faultyBus) with(change func(f *faultyBus)) {
	f.mu.Lock()
	change(f)
	f.mu.Unlock()
}

func (f *faultyBus) Append(ctx context.Context, l bus.Log, data []byte, o bus.AppendOptions) (bus.Ack, error) {
	f.mu.Lock()
	mode := ""
	if f.fail != nil {
		mode = f.fail(l)
	}
	f.mu.Unlock()
	switch mode {
	case "down":
		return bus.Ack{}, errors.New("nats: no responders")
	case "lost":
		if _, err := f.Bus.Append(ctx, l, data, o); err != nil {
			return bus.Ack{}, err
		}
		return bus.Ack{}, context.DeadlineExceeded
	}
	return f.Bus.Append(ctx, l, data, o)
}

func (f *faultyBus) set(fail func(bus.Log) string) {
	f.mu.Lock()
	f.fail = fail
	f.mu.Unlock()
}

// TestBidWhenTheBusFails: a bid the bus did not store is refused as unavailable and
// changes nothing; a bid the bus stored but whose acknowledgement was lost is refused
// too, and its retry is then recognised as the stored bid: acknowledged once, applied
// once, announced once.
func TestBidWhenTheBusFails(t *testing.T) {
	mem := bus.NewMemory()
	fb := &faultyBus{Bus: mem}
	h := newTestHub(t, hubOpts{bus: fb})
	host := join(t, h, claims("host", true, true))
	alice := join(t, h, claims("alice", true, false))
	bob := join(t, h, claims("bob", true, false))
	openLot(t, host, "lot", 60_000)

	fb.set(func(bus.Log) string { return "down" })
	alice.sendEnv(bidEnv("lot", "a1", 100, 0))
	alice.wantError("a1", CodeUnavailable)
	fb.set(nil)
	alice.sendEnv(bidEnv("lot", "a1", 100, 0))
	if a := alice.wantAck("a1"); a["duplicate"] != false {
		t.Fatalf("retry after the bus came back: %v", a)
	}

	fb.set(func(bus.Log) string { return "lost" })
	bob.sendEnv(bidEnv("lot", "b1", 110, 0))
	bob.wantError("b1", CodeUnavailable)
	fb.set(nil)
	bob.sendEnv(bidEnv("lot", "b1", 110, 0))
	a := bob.wantAck("b1")
	if a["duplicate"] != true {
		t.Fatalf("retry of a bid stored with a lost answer: %v, want a duplicate", a)
	}
	// Exactly one record for it, and the lot has it as the high bid.
	recs := logOf(t, mem, "lot")
	if len(recs) != 3 || recs[2].Bid.ID != "b1" {
		t.Fatalf("log %+v", recs)
	}
	st := host.nextWhere(TypeAuctionState, func(p map[string]any) bool { return num(p["bids"]) == 2 })
	if st["highBidder"] != "bob" {
		t.Fatalf("state %v", st)
	}
	// Alice's next bid sees bob's: too low at 110, fine at 120.
	alice.sendEnv(bidEnv("lot", "a2", 110, 0))
	alice.wantError("a2", CodeTooLow)
	alice.sendEnv(bidEnv("lot", "a2", 120, 0))
	alice.wantAck("a2")
}

// TestGiftWhenTheBusFails: a gift whose stored answer was lost is announced and acked on
// its retry, once.
func TestGiftWhenTheBusFails(t *testing.T) {
	mem := bus.NewMemory()
	fb := &faultyBus{Bus: mem}
	h := newTestHub(t, hubOpts{bus: fb})
	alice := join(t, h, claims("alice", true, false))
	g := giftSend{Key: "k", Amount: 100, Currency: "EUR"}
	fb.set(func(bus.Log) string { return "lost" })
	alice.send(TypeGiftSend, "1", g)
	alice.wantError("1", CodeUnavailable)
	fb.set(nil)
	alice.send(TypeGiftSend, "2", g)
	alice.wantAck("2")
	alice.next(TypeGiftAlert)
	n := 0
	_ = mem.Replay(context.Background(), bus.GiftLog(room1), 0, func(bus.Record) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d gift records, want 1", n)
	}
}

// TestLotClosesAfterTheBusRecovers: a lot whose end passes while the bus is down closes
// once it is back, at its end time, not at the time of recovery.
func TestLotClosesAfterTheBusRecovers(t *testing.T) {
	fb := &faultyBus{Bus: bus.NewMemory()}
	h := newTestHub(t, hubOpts{bus: fb})
	host := join(t, h, claims("host", true, true))
	host.send(TypeAuctionOpen, "o", auctionOpen{LotID: "lot", StartPrice: 1, Increment: 1, DurationMs: 100})
	host.wantAck("o")
	fb.set(func(bus.Log) string { return "down" })
	time.Sleep(300 * time.Millisecond) // past the end; the room's close attempts fail
	fb.set(nil)
	closed := host.nextWhere(TypeAuctionClosed, func(map[string]any) bool { return true })
	st := host.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["open"] == false })
	if num(closed["closedAt"]) != num(st["endsAt"]) {
		t.Fatalf("closed at %d, lot ended at %d", num(closed["closedAt"]), num(st["endsAt"]))
	}
}

// TestOverdueLotIsNeverShownOpen: while the bus refuses a lot's close, a lot past its end
// is sent as not open and closing, to the room and to a client joining, and bids for it
// are refused as closed.
func TestOverdueLotIsNeverShownOpen(t *testing.T) {
	fb := &faultyBus{Bus: bus.NewMemory()}
	h := newTestHub(t, hubOpts{bus: fb})
	host := join(t, h, claims("host", true, true))
	host.send(TypeAuctionOpen, "o", auctionOpen{LotID: "lot", StartPrice: 1, Increment: 1, DurationMs: 100})
	host.wantAck("o")
	fb.set(func(bus.Log) string { return "down" })
	st := host.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["open"] == false })
	if st["closing"] != true {
		t.Fatalf("the room was told %v, want closing", st)
	}
	time.Sleep(150 * time.Millisecond) // past the end; the close attempts fail
	bob := join(t, h, claims("bob", true, false))
	for _, e := range bob.drain() {
		if e.Type == TypeAuctionState {
			if p := payloadOf(t, e); p["open"] != false || p["closing"] != true {
				t.Fatalf("a joining client was sent %v for an overdue lot", p)
			}
		}
	}
	bob.sendEnv(bidEnv("lot", "b1", 5, 0))
	bob.wantError("b1", CodeClosed)
	fb.set(nil)
	host.nextWhere(TypeAuctionClosed, func(map[string]any) bool { return true })
	host.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["open"] == false && p["closing"] == nil })
}

// TestLotFollowsTheLogWhenTheBusFails: a node that could not read another node's bid
// from the lot's log reads it again once the log answers, with no further event; and a
// node that never heard of a bid or a close (the event lost) reads them within
// lot_follow_interval. A CI run of the cluster split test had a node miss a close this
// way and show the lot open for good.
func TestLotFollowsTheLogWhenTheBusFails(t *testing.T) {
	for _, lost := range []string{"read", "event"} {
		t.Run(lost, func(t *testing.T) {
			mem := bus.NewMemory()
			fb := &faultyBus{Bus: mem.Peer()}
			h1 := newTestHub(t, hubOpts{bus: mem})
			h2 := newTestHub(t, hubOpts{bus: fb, cfg: func(c *Config) {
				c.LotFollowInterval = time.Hour // only the retry of a failed read can help
				if lost == "event" {
					c.LotFollowInterval = 200 * time.Millisecond
				}
			}})
			watcher := join(t, h2, nil)
			host := join(t, h1, claims("host", true, true))
			alice := join(t, h1, claims("alice", true, false))
			openLot(t, host, "lot", 600_000)
			watcher.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "lot" })

			if lost == "read" {
				fb.with(func(f *faultyBus) { f.readsDown = true })
			} else {
				fb.with(func(f *faultyBus) { f.eventsLost = true })
			}
			alice.sendEnv(bidEnv("lot", "a1", 100, 0))
			alice.wantAck("a1")
			if lost == "read" {
				fb.upAfterAFailedRead()
			}
			watcher.nextWhere(TypeAuctionAccepted, func(p map[string]any) bool { return p["bidId"] == "a1" })

			host.send(TypeAuctionEnd, "c", map[string]string{"lotId": "lot"})
			host.wantAck("c")
			closed := watcher.nextWhere(TypeAuctionClosed, func(map[string]any) bool { return true })
			if closed["winner"] != "alice" || num(closed["amount"]) != 100 {
				t.Fatalf("node 2 was told %v; want alice's 100", closed)
			}
		})
	}
}

// TestLotOpenedElsewhereLoadsAfterAFailedRead: a node told of a lot another node opened
// while the log refused reads loads it once the log answers.
func TestLotOpenedElsewhereLoadsAfterAFailedRead(t *testing.T) {
	mem := bus.NewMemory()
	fb := &faultyBus{Bus: mem.Peer()}
	h1 := newTestHub(t, hubOpts{bus: mem})
	h2 := newTestHub(t, hubOpts{bus: fb, cfg: func(c *Config) { c.LotFollowInterval = time.Hour }})
	watcher := join(t, h2, nil)
	host := join(t, h1, claims("host", true, true))
	fb.with(func(f *faultyBus) { f.readsDown = true })
	openLot(t, host, "lot", 600_000)
	fb.upAfterAFailedRead()
	watcher.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "lot" && p["open"] == true })
}

// TestLotOpenedElsewhereLoadsAfterALostEvent: a node that never heard of a lot opened on
// another node (the event lost) loads it from the other node's repeat of its state.
func TestLotOpenedElsewhereLoadsAfterALostEvent(t *testing.T) {
	mem := bus.NewMemory()
	fb := &faultyBus{Bus: mem.Peer()}
	h1 := newTestHub(t, hubOpts{bus: mem, cfg: func(c *Config) { c.LotFollowInterval = 200 * time.Millisecond }})
	h2 := newTestHub(t, hubOpts{bus: fb})
	watcher := join(t, h2, nil)
	host := join(t, h1, claims("host", true, true))
	fb.with(func(f *faultyBus) { f.eventsLost = true })
	openLot(t, host, "lot", 600_000)
	time.Sleep(50 * time.Millisecond) // the open's event is gone by now
	fb.with(func(f *faultyBus) { f.eventsLost = false })
	watcher.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "lot" && p["open"] == true })
}

// TestLotEventDuringARead: a bid whose event comes while the lot's log is being read
// (the read may have missed it) is read at once after, not a lot_follow_interval later.
func TestLotEventDuringARead(t *testing.T) {
	mem := bus.NewMemory()
	fb := &faultyBus{Bus: mem.Peer()}
	hour := func(c *Config) { c.LotFollowInterval = time.Hour } // no periodic read or repeat to help
	h1 := newTestHub(t, hubOpts{bus: mem, cfg: hour})
	h2 := newTestHub(t, hubOpts{bus: fb, cfg: hour})
	watcher := join(t, h2, nil)
	host := join(t, h1, claims("host", true, true))
	alice := join(t, h1, claims("alice", true, false))
	bob := join(t, h1, claims("bob", true, false))
	openLot(t, host, "lot", 600_000)
	watcher.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "lot" })
	fb.with(func(f *faultyBus) { f.readsSlow = 300 * time.Millisecond })
	alice.sendEnv(bidEnv("lot", "a1", 100, 0))
	alice.wantAck("a1")
	time.Sleep(100 * time.Millisecond) // node 2 is reading for a1
	bob.sendEnv(bidEnv("lot", "b1", 110, 0))
	bob.wantAck("b1")
	watcher.nextWhere(TypeAuctionAccepted, func(p map[string]any) bool { return p["bidId"] == "b1" })
}

// TestLotsReadAgainAfterAFailedStart: a room that starts while the bus refuses reads
// (JetStream recovering after a restart) reads its lots again once it answers: the open
// lot is shown, and one whose end passed meanwhile is closed. Without this the lots
// stayed unknown to the room, never shown and never closed.
func TestLotsReadAgainAfterAFailedStart(t *testing.T) {
	mem := bus.NewMemory()
	lotsInTheLog(t, mem, func(host, _ *client) {
		openLot(t, host, "open", 600_000)
		openLot(t, host, "ending", 300)
	})
	fb, watcher := startingWith(t, mem, func(f *faultyBus) { f.readsDown = true })
	time.Sleep(300 * time.Millisecond) // "ending" is past its end, the start's reads refused
	fb.upAfterAFailedRead()
	watcher.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "open" && p["open"] == true })
	watcher.nextWhere(TypeAuctionClosed, func(p map[string]any) bool { return p["lotId"] == "ending" })
}

// TestLotsReadOnWhereAFailedReadStopped: a room whose lots' log is too long to read in
// one go (each read here gets one record, then times out) still gets them all: every
// read goes on where the one before stopped.
func TestLotsReadOnWhereAFailedReadStopped(t *testing.T) {
	mem := bus.NewMemory()
	lotsInTheLog(t, mem, func(host, alice *client) {
		openLot(t, host, "a", 600_000)
		alice.sendEnv(bidEnv("a", "a1", 100, 0))
		alice.wantAck("a1")
		openLot(t, host, "b", 600_000)
	})
	_, watcher := startingWith(t, mem, func(f *faultyBus) { f.readsCut = true })
	watcher.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "b" && p["open"] == true })
	watcher.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "a" && num(p["bids"]) == 1 })
}

// TestOpenRetryAfterALostAnswer: an open the bus stored but whose answer was lost, sent
// again by its seller (a different duration, as a client rebuilding it might), is
// acknowledged as the lot the log has: the first open's end, not the retry's.
func TestOpenRetryAfterALostAnswer(t *testing.T) {
	fb := &faultyBus{Bus: bus.NewMemory()}
	h := newTestHub(t, hubOpts{bus: fb})
	host := join(t, h, claims("host", true, true))
	fb.set(func(bus.Log) string { return "lost" })
	host.send(TypeAuctionOpen, "o1", auctionOpen{LotID: "lot", StartPrice: 1, Increment: 1, DurationMs: 60_000})
	host.wantError("o1", CodeUnavailable)
	fb.set(nil)
	host.send(TypeAuctionOpen, "o2", auctionOpen{LotID: "lot", StartPrice: 1, Increment: 1, DurationMs: 600_000})
	host.wantAck("o2")
	st := host.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "lot" })
	if left := time.Until(time.UnixMilli(num(st["endsAt"]))); left > 2*time.Minute {
		t.Fatalf("the lot ends in %v: the retry's 10 minutes, not the stored open's one", left.Round(time.Second))
	}
}

// lotsInTheLog runs a hub on mem, does what write says with its host and alice, and
// closes it: its lots are in the log for the next hub on mem.
func lotsInTheLog(t *testing.T, mem *bus.Memory, write func(host, alice *client)) {
	t.Helper()
	h := newTestHub(t, hubOpts{bus: mem})
	write(join(t, h, claims("host", true, true)), join(t, h, claims("alice", true, false)))
	h.Close()
}

// startingWith starts a hub on mem through a faultyBus with fault set (and no periodic
// read of the lots to help), and a watcher in its room.
func startingWith(t *testing.T, mem *bus.Memory, fault func(f *faultyBus)) (*faultyBus, *client) {
	t.Helper()
	fb := &faultyBus{Bus: mem.Peer()}
	fb.with(fault)
	h := newTestHub(t, hubOpts{bus: fb, cfg: func(c *Config) { c.LotFollowInterval = time.Hour }})
	return fb, join(t, h, nil)
}
