package datachannel

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/glintlive/glint/datachannel/auction"
	"github.com/glintlive/glint/datachannel/bus"
)

func openLot(t *testing.T, host *client, lot string, durationMs int64) {
	t.Helper()
	host.send(TypeAuctionOpen, "open-"+lot, auctionOpen{LotID: lot, Title: "Vase", StartPrice: 100, Increment: 10,
		DurationMs: durationMs, SnipeWindowMs: 2000, SnipeExtendMs: 3000})
	host.wantAck("open-" + lot)
}

func bidEnv(lot, bidID string, amount, mediaTime int64) *Envelope {
	return &Envelope{Type: TypeAuctionBid, ID: bidID, MediaTime: mediaTime,
		Payload: mustPayload(auctionBid{LotID: lot, BidID: bidID, Amount: amount})}
}

func logOf(t *testing.T, b bus.Bus, lot string) []auction.Record {
	t.Helper()
	var out []auction.Record
	err := b.Replay(context.Background(), bus.AuctionLog(room1, lot), 0, func(r bus.Record) error {
		var ar auction.Record
		if err := json.Unmarshal(r.Data, &ar); err != nil {
			return err
		}
		out = append(out, ar)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAuctionEndToEnd(t *testing.T) {
	b := bus.NewMemory()
	h := newTestHub(t, hubOpts{bus: b})
	host := join(t, h, claims("host", true, true))
	alice := join(t, h, claims("alice", true, false))
	bob := join(t, h, claims("bob", true, false))
	viewer := join(t, h, nil)

	openLot(t, host, "lot1", 60_000)
	// Before the first bid the high bid is present and empty, and the start price is next.
	s := viewer.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "lot1" })
	if hb, ok := s["highBidder"]; s["open"] != true || num(s["minNext"]) != 100 || !ok || hb != "" {
		t.Fatalf("opened lot %v", s)
	}
	if ha, ok := s["highAmount"]; !ok || ha != float64(0) {
		t.Fatalf("opened lot without highAmount 0: %v", s)
	}
	alice.sendEnv(bidEnv("lot1", "a1", 100, 1_699_999_999_800))
	ack := alice.wantAck("a1")
	if ack["duplicate"] != false || num(ack["logSeq"]) == 0 {
		t.Fatalf("ack %v", ack)
	}
	// The ack came after the bid was on the bus.
	if recs := logOf(t, b, "lot1"); len(recs) != 2 || recs[1].Bid.Amount != 100 || recs[1].Bid.MediaTime != 1_699_999_999_800 {
		t.Fatalf("log %+v", recs)
	}
	acc := viewer.nextWhere(TypeAuctionAccepted, func(map[string]any) bool { return true })
	if acc["bidder"] != "alice" || num(acc["bidMediaTime"]) != 1_699_999_999_800 {
		t.Fatalf("accepted %v", acc)
	}

	bob.sendEnv(bidEnv("lot1", "b1", 105, 0))
	bob.wantError("b1", CodeTooLow)
	bob.sendEnv(bidEnv("lot1", "b1", 110, 0))
	bob.wantAck("b1")
	out := payloadOf(t, alice.next(TypeAuctionOutbid))
	if num(out["highAmount"]) != 110 || num(out["minNext"]) != 120 {
		t.Fatalf("outbid %v", out)
	}
	bob.sendEnv(bidEnv("lot1", "b2", 200, 0))
	bob.wantError("b2", CodeAlreadyHighest)

	// A retry of an acknowledged bid is acknowledged again, not bid again.
	alice.sendEnv(bidEnv("lot1", "a1", 100, 0))
	if again := alice.wantAck("a1"); again["duplicate"] != true || num(again["logSeq"]) != num(ack["logSeq"]) {
		t.Fatalf("retry ack %v, first %v", again, ack)
	}
	// Someone else cannot bid in alice's name.
	bob.raw([]byte(`{"v":1,"type":"auction.bid","id":"x","from":"alice","payload":{"lotId":"lot1","bidId":"z","amount":500}}`))
	bob.wantError("x", CodeForgedFrom)

	host.send(TypeAuctionEnd, "close", lotRef{LotID: "lot1"})
	host.wantAck("close")
	closed := viewer.nextWhere(TypeAuctionClosed, func(map[string]any) bool { return true })
	if closed["winner"] != "bob" || num(closed["amount"]) != 110 || closed["sold"] != true {
		t.Fatalf("closed %v", closed)
	}
	alice.sendEnv(bidEnv("lot1", "a2", 500, 0))
	alice.wantError("a2", CodeClosed)
	if recs := logOf(t, b, "lot1"); len(recs) != 4 || recs[3].Kind != auction.KindClose {
		t.Fatalf("log %+v", recs)
	}
}

func TestAuctionClosesAtDeadlineWithAntiSnipe(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	host := join(t, h, claims("host", true, true))
	alice := join(t, h, claims("alice", true, false))
	openLot(t, host, "quick", 300) // inside the 2 s snipe window from the start
	alice.sendEnv(bidEnv("quick", "a1", 100, 0))
	ack := alice.wantAck("a1")
	st := alice.nextWhere(TypeAuctionState, func(p map[string]any) bool { return num(p["bids"]) == 1 })
	if num(st["extensions"]) != 1 || num(st["endsAt"]) != num(ack["endsAt"]) {
		t.Fatalf("state after a bid in the snipe window %v (ack %v)", st, ack)
	}
	closed := alice.nextWhere(TypeAuctionClosed, func(map[string]any) bool { return true })
	if closed["winner"] != "alice" || num(closed["closedAt"]) != num(ack["endsAt"]) {
		t.Fatalf("closed %v, want alice at the extended end %d", closed, num(ack["endsAt"]))
	}
}

// TestAuctionRestoresFromBus closes a hub mid-auction and opens another on the same bus:
// the lot, its bids and the idempotency of retries come back.
func TestAuctionRestoresFromBus(t *testing.T) {
	b := bus.NewMemory()
	h1 := newTestHub(t, hubOpts{bus: b})
	host := join(t, h1, claims("host", true, true))
	alice := join(t, h1, claims("alice", true, false))
	openLot(t, host, "lot", 60_000)
	alice.sendEnv(bidEnv("lot", "a1", 150, 0))
	first := alice.wantAck("a1")
	h1.Close()

	h2 := newTestHub(t, hubOpts{bus: b})
	alice2 := join(t, h2, claims("alice", true, false))
	st := alice2.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "lot" })
	if st["highBidder"] != "alice" || num(st["highAmount"]) != 150 || st["open"] != true {
		t.Fatalf("restored lot %v", st)
	}
	alice2.sendEnv(bidEnv("lot", "a1", 150, 0))
	if again := alice2.wantAck("a1"); again["duplicate"] != true || num(again["logSeq"]) != num(first["logSeq"]) {
		t.Fatalf("retry after restart %v, first %v", again, first)
	}
	bob := join(t, h2, claims("bob", true, false))
	bob.sendEnv(bidEnv("lot", "b1", 160, 0))
	bob.wantAck("b1")
}

// TestTwoNodesOneOrder runs two hubs on one bus, as two nodes sharing a NATS cluster,
// taking bids on the same lot at once. Conflicts are resolved by catching up, so the log
// holds one strictly increasing order and every acked bid is in it exactly once.
func TestTwoNodesOneOrder(t *testing.T) {
	b := bus.NewMemory()
	twoNodesOneOrder(t, b, b.Peer())
}

// TestTwoNodesOneOrderOverNATS is the same with two NATS connections to one server, as
// two Glint processes on a cluster would have.
func TestTwoNodesOneOrderOverNATS(t *testing.T) {
	url := natsServer(t)
	twoNodesOneOrder(t, openNATS(t, url), openNATS(t, url))
}

func twoNodesOneOrder(t *testing.T, b, b2 bus.Bus) {
	h1 := newTestHub(t, hubOpts{bus: b, cfg: func(c *Config) { c.RateBurst, c.RatePerSecond = 1000, 1000 }})
	h2 := newTestHub(t, hubOpts{bus: b2, cfg: func(c *Config) { c.RateBurst, c.RatePerSecond = 1000, 1000 }})
	watcher := join(t, h2, nil) // on node 2 before the lot exists: learns of it through the bus
	host := join(t, h1, claims("host", true, true))
	openLot(t, host, "lot", 120_000)
	watcher.nextWhere(TypeAuctionState, func(p map[string]any) bool { return p["lotId"] == "lot" })
	const bidders, rounds = 6, 15
	var mu sync.Mutex
	acked := map[string]int64{}
	var high atomic.Int64
	high.Store(90)
	var wg sync.WaitGroup
	for i := 0; i < bidders; i++ {
		h := h1
		if i%2 == 1 {
			h = h2
		}
		c := join(t, h, claims(fmt.Sprint("bidder", i), true, false))
		wg.Add(1)
		go func(i int, c *client) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				id := fmt.Sprint("b", i, "-", r)
				// Bid just above the highest amount any bidder has seen acked, so bids
				// from both nodes race for the same next slot.
				amount := high.Load() + 10
				c.sendEnv(bidEnv("lot", id, amount, 0))
				env := c.reply(id)
				if env.Type == TypeAck {
					mu.Lock()
					acked[c.conn.identity+"/"+id] = amount
					mu.Unlock()
					for cur := high.Load(); cur < amount && !high.CompareAndSwap(cur, amount); cur = high.Load() {
					}
				}
			}
		}(i, c)
	}
	wg.Wait()
	recs := logOf(t, b, "lot")
	seen := map[string]bool{}
	var last int64
	for _, r := range recs[1:] {
		key := r.Bid.Bidder + "/" + r.Bid.ID
		if seen[key] {
			t.Fatalf("bid %s twice in the log", key)
		}
		seen[key] = true
		if r.Bid.Amount < last+10 {
			t.Fatalf("amount %d after %d", r.Bid.Amount, last)
		}
		last = r.Bid.Amount
	}
	for k, amount := range acked {
		if !seen[k] {
			t.Fatalf("acked bid %s (%d) is not in the log", k, amount)
		}
	}
	if len(acked) != len(recs)-1 {
		t.Fatalf("%d acked, %d in the log", len(acked), len(recs)-1)
	}
	t.Logf("%d bids accepted across two nodes, %d refused", len(acked), bidders*rounds-len(acked))
	// A viewer on node 2 converges on the lot as the log has it, bids from node 1 included.
	watcher.nextWhere(TypeAuctionState, func(p map[string]any) bool { return num(p["bids"]) == int64(len(recs)-1) })
}

func TestPollEndToEnd(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	host := join(t, h, claims("host", true, true))
	voters := make([]*client, 5)
	for i := range voters {
		voters[i] = join(t, h, claims(fmt.Sprint("v", i), true, false))
	}
	host.send(TypePollOpen, "p", pollOpen{PollID: "game", Question: "Next?", Options: []string{"chess", "go"}, DurationMs: 60_000})
	host.wantAck("p")
	for i, v := range voters {
		v.send(TypePollVote, "v", pollVote{PollID: "game", Option: i % 2})
		v.wantAck("v")
	}
	voters[0].send(TypePollVote, "change", pollVote{PollID: "game", Option: 1}) // changes its mind
	voters[0].wantAck("change")
	voters[1].send(TypePollVote, "bad", pollVote{PollID: "game", Option: 7})
	voters[1].wantError("bad", CodeBadPayload)
	// Tallies are throttled: the host sees the final count eventually, in few messages.
	st := host.nextWhere(TypePollState, func(p map[string]any) bool {
		c := p["counts"].([]any)
		return num(c[0]) == 2 && num(c[1]) == 3
	})
	if num(st["total"]) != 5 {
		t.Fatalf("tally %v", st)
	}
	host.send(TypePollClose, "c", pollRef{PollID: "game"})
	host.wantAck("c")
	res := host.nextWhere(TypePollState, func(p map[string]any) bool { return p["open"] == false })
	if w := res["winners"].([]any); len(w) != 1 || num(w[0]) != 1 {
		t.Fatalf("results %v", res)
	}
	voters[2].send(TypePollVote, "late", pollVote{PollID: "game", Option: 0})
	voters[2].wantError("late", CodeClosed)
}

func TestQnaEndToEnd(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	host := join(t, h, claims("host", true, true))
	alice := join(t, h, claims("alice", true, false))
	bob := join(t, h, claims("bob", true, false))
	alice.send(TypeQnaAsk, "q", qnaAsk{Text: "When is the next show?"})
	qid := alice.wantAck("q")["questionId"].(string)
	bob.send(TypeQnaUpvote, "u", qnaRef{QuestionID: qid})
	bob.wantAck("u")
	alice.send(TypeQnaUpvote, "own", qnaRef{QuestionID: qid})
	alice.wantError("own", CodeRejected)
	bob.send(TypeQnaAnswer, "ans", qnaRef{QuestionID: qid, Text: "Friday"})
	bob.wantError("ans", CodeForbidden)
	host.send(TypeQnaAnswer, "ans", qnaRef{QuestionID: qid, Text: "Friday"})
	host.wantAck("ans")
	q := bob.nextWhere(TypeQnaQuestion, func(p map[string]any) bool { return p["status"] == "answered" })
	if num(q["votes"]) != 1 || q["answer"] != "Friday" {
		t.Fatalf("question %v", q)
	}
}

func TestGiftsAreIdempotent(t *testing.T) {
	b := bus.NewMemory()
	h := newTestHub(t, hubOpts{bus: b})
	alice := join(t, h, claims("alice", true, false))
	viewer := join(t, h, nil)
	g := giftSend{Key: "k1", Gift: "rose", Amount: 500, Currency: "EUR", Message: "gg"}
	alice.send(TypeGiftSend, "g1", g)
	first := alice.wantAck("g1")
	if first["duplicate"] != false || num(first["logSeq"]) == 0 {
		t.Fatalf("ack %v", first)
	}
	// The retry's ack names the record the first attempt stored, as a bid's retry does.
	alice.send(TypeGiftSend, "g1-retry", g)
	if a := alice.wantAck("g1-retry"); a["duplicate"] != true || a["key"] != "k1" || num(a["logSeq"]) != num(first["logSeq"]) {
		t.Fatalf("retry ack %v, first %v", a, first)
	}
	g.Amount = 900
	alice.send(TypeGiftSend, "g1-other", g)
	alice.wantError("g1-other", CodeRejected)
	alert := viewer.nextWhere(TypeGiftAlert, func(map[string]any) bool { return true })
	if alert["from"] != "alice" || num(alert["amount"]) != 500 {
		t.Fatalf("alert %v", alert)
	}
	n := 0
	_ = b.Replay(context.Background(), bus.GiftLog(room1), 0, func(bus.Record) error { n++; return nil })
	if n != 1 {
		t.Fatalf("%d gift records, want 1", n)
	}
	for _, e := range viewer.drain() {
		if e.Type == TypeGiftAlert {
			t.Fatal("a retried gift was announced twice")
		}
	}
}

// TestGiftRetryAfterRestart: a gift retried after the server restarted (the room rebuilt
// from the durable gift log) is still a duplicate, acked with the original logSeq.
func TestGiftRetryAfterRestart(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		b := bus.NewMemory()
		giftRetryAfterRestart(t, b, b)
	})
	t.Run("nats", func(t *testing.T) {
		url := natsServer(t)
		giftRetryAfterRestart(t, openNATS(t, url), openNATS(t, url))
	})
}

func giftRetryAfterRestart(t *testing.T, b1, b2 bus.Bus) {
	h1 := newTestHub(t, hubOpts{bus: b1})
	alice := join(t, h1, claims("alice", true, false))
	g := giftSend{Key: "k1", Gift: "rose", Amount: 500, Currency: "EUR"}
	alice.send(TypeGiftSend, "g1", g)
	first := alice.wantAck("g1")
	h1.Close()

	h2 := newTestHub(t, hubOpts{bus: b2})
	alice2 := join(t, h2, claims("alice", true, false))
	viewer := join(t, h2, nil)
	alice2.send(TypeGiftSend, "g1-retry", g)
	if a := alice2.wantAck("g1-retry"); a["duplicate"] != true || num(a["logSeq"]) == 0 || num(a["logSeq"]) != num(first["logSeq"]) {
		t.Fatalf("retry after restart %v, first %v", a, first)
	}
	for _, e := range viewer.drain() {
		if e.Type == TypeGiftAlert {
			t.Fatal("a retried gift was announced again after the restart")
		}
	}
}
