package auction

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRandomInterleavedBids replays interleaved bids from many bidders, with retries and
// stale amounts, and checks the invariants after every step and at the end: accepted
// amounts strictly increase by at least the increment, no bid is accepted twice, retries
// answer with the original bid, the end moves only by anti-sniping and exactly as the
// rules say, nothing is accepted after the end, at most one winner, and the records
// rebuild the same lot.
func TestRandomInterleavedBids(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { randomAuction(t, seed) })
	}
}

func randomAuction(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	s := Spec{LotID: "lot", StartPrice: 1 + rng.Int64N(1000), Increment: 1 + rng.Int64N(50),
		EndsAt: t0.Add(time.Duration(5+rng.IntN(60)) * time.Second)}
	if rng.IntN(4) > 0 {
		s.SnipeWindow = time.Duration(1+rng.IntN(10)) * time.Second
		s.SnipeExtend = time.Duration(1+rng.IntN(10)) * time.Second
	}
	if rng.IntN(3) == 0 {
		s.Reserve = s.StartPrice + rng.Int64N(2000)
	}
	l, err := Open(s, t0)
	if err != nil {
		t.Fatal(err)
	}
	recs := []Record{OpenRecord(l.Spec())}
	type sent struct {
		b        Bid
		accepted *Bid
	}
	var history []sent
	bidders := 2 + rng.IntN(20)
	now := t0
	var accepted []Bid
	seen := map[bidKey]bool{}
	for step := 0; step < 2000 && !l.Due(now); step++ {
		now = now.Add(time.Duration(rng.Int64N(int64(300 * time.Millisecond))))
		var b Bid
		if len(history) > 0 && rng.IntN(5) == 0 { // a retry of something sent before
			b = history[rng.IntN(len(history))].b
		} else {
			b = Bid{ID: fmt.Sprint("b", step), Bidder: fmt.Sprint("u", rng.IntN(bidders)),
				Amount: l.MinNext() + rng.Int64N(3*s.Increment) - s.Increment, MediaTime: now.UnixMilli() - 200}
		}
		endBefore := l.EndsAt()
		o, err := l.Bid(now, b)
		if err != nil {
			if l.EndsAt() != endBefore {
				t.Fatalf("a refused bid moved the end")
			}
			history = append(history, sent{b: b})
			continue
		}
		if o.Duplicate {
			if !seen[bidKey{b.Bidder, b.ID}] || o.Bid.Amount != findAccepted(accepted, b).Amount {
				t.Fatalf("duplicate answer %+v for a bid not accepted as such", o.Bid)
			}
			continue
		}
		// A new acceptance.
		if seen[bidKey{b.Bidder, b.ID}] {
			t.Fatalf("bid %v accepted twice", b)
		}
		seen[bidKey{b.Bidder, b.ID}] = true
		if !now.Before(endBefore) {
			t.Fatalf("bid accepted at %v, after the end %v", now, endBefore)
		}
		if n := len(accepted); n > 0 && o.Bid.Amount < accepted[n-1].Amount+s.Increment {
			t.Fatalf("accepted %d after %d with increment %d", o.Bid.Amount, accepted[n-1].Amount, s.Increment)
		}
		if len(accepted) == 0 && o.Bid.Amount < s.StartPrice {
			t.Fatalf("first bid %d below the start price %d", o.Bid.Amount, s.StartPrice)
		}
		inWindow := s.SnipeWindow > 0 && endBefore.Sub(now) <= s.SnipeWindow
		wantEnd := endBefore
		if inWindow {
			wantEnd = endBefore.Add(s.SnipeExtend)
		}
		if !l.EndsAt().Equal(wantEnd) || o.Extended != inWindow {
			t.Fatalf("end %v extended=%v, want %v %v", l.EndsAt(), o.Extended, wantEnd, inWindow)
		}
		accepted = append(accepted, o.Bid)
		recs = append(recs, BidRecord(o.Bid))
		history = append(history, sent{b: b, accepted: &o.Bid})
	}
	r, err := l.Close(l.EndsAt())
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs, CloseRecord(r.ClosedAt))
	if n := len(accepted); n > 0 && accepted[n-1].Amount >= s.Reserve {
		if r.Winner == nil || *r.Winner != accepted[n-1] {
			t.Fatalf("winner %+v, want the last accepted bid %+v", r.Winner, accepted[n-1])
		}
	} else if r.Winner != nil {
		t.Fatalf("winner %+v with no qualifying bid", r.Winner)
	}
	again, err := FromRecords(recs)
	if err != nil {
		t.Fatal(err)
	}
	if again.Snapshot() != l.Snapshot() {
		t.Fatalf("records rebuild %+v, want %+v", again.Snapshot(), l.Snapshot())
	}
	// Every retry of an accepted bid, after the close, still answers with the original.
	for _, h := range history {
		if h.accepted == nil {
			continue
		}
		o, err := l.Bid(now.Add(time.Hour), h.b)
		if err != nil || !o.Duplicate || o.Bid != *h.accepted {
			t.Fatalf("retry after close: %+v %v", o, err)
		}
	}
}

func findAccepted(bids []Bid, b Bid) Bid {
	for _, a := range bids {
		if a.Bidder == b.Bidder && a.ID == b.ID {
			return a
		}
	}
	return Bid{}
}
