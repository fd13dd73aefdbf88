package auction

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func spec() Spec {
	return Spec{LotID: "lot1", Title: "Vase", StartPrice: 100, Increment: 10, EndsAt: at(60),
		SnipeWindow: 10 * time.Second, SnipeExtend: 15 * time.Second, Seller: "host"}
}

func TestOpenValidates(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Spec)
		ok   bool
	}{
		{"good", func(*Spec) {}, true},
		{"no id", func(s *Spec) { s.LotID = "" }, false},
		{"zero start", func(s *Spec) { s.StartPrice = 0 }, false},
		{"negative increment", func(s *Spec) { s.Increment = -1 }, false},
		{"huge start", func(s *Spec) { s.StartPrice = MaxAmount + 1 }, false},
		{"negative reserve", func(s *Spec) { s.Reserve = -5 }, false},
		{"ends in the past", func(s *Spec) { s.EndsAt = at(-1) }, false},
		{"ends now", func(s *Spec) { s.EndsAt = t0 }, false},
		{"window without extension", func(s *Spec) { s.SnipeExtend = 0 }, false},
		{"no anti-snipe", func(s *Spec) { s.SnipeWindow, s.SnipeExtend = 0, 0 }, true},
		{"runs too long", func(s *Spec) { s.EndsAt = t0.Add(8 * 24 * time.Hour) }, false},
	}
	for _, tt := range tests {
		s := spec()
		tt.mod(&s)
		_, err := Open(s, t0)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: err = %v, want ErrInvalidSpec", tt.name, err)
		}
	}
}

// step is one command in a table-driven scenario.
type step struct {
	at     float64 // seconds after t0
	bidder string
	id     string
	amount int64
	close  bool

	err      error
	dup      bool
	outbid   string // previous high bidder
	extended bool
	endsAt   float64
}

func TestLotScenarios(t *testing.T) {
	tests := []struct {
		name    string
		reserve int64
		steps   []step
		winner  string
		amount  int64
	}{
		{name: "first bid at start price, then increments", steps: []step{
			{at: 1, bidder: "a", id: "1", amount: 99, err: ErrTooLow, endsAt: 60},
			{at: 1, bidder: "a", id: "1", amount: 100, endsAt: 60},
			{at: 2, bidder: "b", id: "1", amount: 109, err: ErrTooLow, endsAt: 60},
			{at: 2, bidder: "b", id: "1", amount: 110, outbid: "a", endsAt: 60},
			{at: 3, bidder: "a", id: "2", amount: 500, outbid: "b", endsAt: 60},
		}, winner: "a", amount: 500},
		{name: "retry is idempotent, even after being outbid", steps: []step{
			{at: 1, bidder: "a", id: "x", amount: 100, endsAt: 60},
			{at: 2, bidder: "a", id: "x", amount: 100, dup: true, endsAt: 60},
			{at: 3, bidder: "b", id: "x", amount: 110, outbid: "a", endsAt: 60}, // same id, other bidder: a new bid
			{at: 4, bidder: "a", id: "x", amount: 999, dup: true, endsAt: 60},   // the original stands
		}, winner: "b", amount: 110},
		{name: "the seller cannot bid", steps: []step{
			{at: 1, bidder: "host", id: "1", amount: 100, err: ErrSellerBid, endsAt: 60},
		}},
		{name: "cannot outbid yourself", steps: []step{
			{at: 1, bidder: "a", id: "1", amount: 100, endsAt: 60},
			{at: 2, bidder: "a", id: "2", amount: 200, err: ErrAlreadyHighest, endsAt: 60},
		}, winner: "a", amount: 100},
		{name: "bad bids", steps: []step{
			{at: 1, bidder: "", id: "1", amount: 100, err: ErrInvalidBid, endsAt: 60},
			{at: 1, bidder: "a", id: "", amount: 100, err: ErrInvalidBid, endsAt: 60},
			{at: 1, bidder: "a", id: "1", amount: 0, err: ErrInvalidBid, endsAt: 60},
			{at: 1, bidder: "a", id: "1", amount: -100, err: ErrInvalidBid, endsAt: 60},
			{at: 1, bidder: "a", id: "1", amount: MaxAmount + 1, err: ErrInvalidBid, endsAt: 60},
		}},
		{name: "anti-snipe extends from the current end", steps: []step{
			{at: 49.9, bidder: "a", id: "1", amount: 100, endsAt: 60},                            // 10.1s left: no extension
			{at: 50, bidder: "b", id: "1", amount: 110, outbid: "a", extended: true, endsAt: 75}, // exactly 10s left
			{at: 70, bidder: "a", id: "2", amount: 120, outbid: "b", extended: true, endsAt: 90},
			{at: 79.9, bidder: "b", id: "2", amount: 130, outbid: "a", endsAt: 90},
			{at: 89.999, bidder: "a", id: "3", amount: 140, outbid: "b", extended: true, endsAt: 105},
			{at: 105, bidder: "b", id: "3", amount: 150, err: ErrClosed, endsAt: 105}, // at the end is too late
		}, winner: "a", amount: 140},
		{name: "closed by the host", steps: []step{
			{at: 1, bidder: "a", id: "1", amount: 100, endsAt: 60},
			{at: 2, close: true, endsAt: 60},
			{at: 3, bidder: "b", id: "1", amount: 200, err: ErrClosed, endsAt: 60},
			{at: 4, bidder: "a", id: "1", amount: 100, dup: true, endsAt: 60}, // a retry still answers
			{at: 5, close: true, err: ErrClosed, endsAt: 60},
		}, winner: "a", amount: 100},
		{name: "reserve not met: unsold", reserve: 1000, steps: []step{
			{at: 1, bidder: "a", id: "1", amount: 100, endsAt: 60},
			{at: 61, close: true, endsAt: 60},
		}},
		{name: "reserve met", reserve: 1000, steps: []step{
			{at: 1, bidder: "a", id: "1", amount: 1000, endsAt: 60},
			{at: 61, close: true, endsAt: 60},
		}, winner: "a", amount: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec()
			s.Reserve = tt.reserve
			l, err := Open(s, t0)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tt.steps {
				if st.close {
					_, err := l.Close(at(st.at))
					if !errors.Is(err, st.err) {
						t.Fatalf("step %d close: err = %v, want %v", i, err, st.err)
					}
					continue
				}
				o, err := l.Bid(at(st.at), Bid{ID: st.id, Bidder: st.bidder, Amount: st.amount})
				if !errors.Is(err, st.err) {
					t.Fatalf("step %d: err = %v, want %v", i, err, st.err)
				}
				if got := l.EndsAt(); !got.Equal(at(st.endsAt)) {
					t.Fatalf("step %d: ends at +%v, want +%v", i, got.Sub(t0).Seconds(), st.endsAt)
				}
				if err != nil {
					continue
				}
				if o.Duplicate != st.dup || o.Extended != st.extended {
					t.Fatalf("step %d: dup=%v extended=%v, want %v %v", i, o.Duplicate, o.Extended, st.dup, st.extended)
				}
				if got := ""; o.Outbid != nil {
					got = o.Outbid.Bidder
					if got != st.outbid {
						t.Fatalf("step %d: outbid %q, want %q", i, got, st.outbid)
					}
				} else if st.outbid != "" && !st.dup {
					t.Fatalf("step %d: nobody outbid, want %q", i, st.outbid)
				}
			}
			_, _ = l.Close(at(1000))
			r, _ := l.Closed()
			switch {
			case tt.winner == "" && r.Winner != nil:
				t.Fatalf("winner %+v, want unsold", r.Winner)
			case tt.winner != "" && (r.Winner == nil || r.Winner.Bidder != tt.winner || r.Winner.Amount != tt.amount):
				t.Fatalf("winner %+v, want %s at %d", r.Winner, tt.winner, tt.amount)
			}
			if r.Winner != nil && !r.ReserveMet {
				t.Fatal("a winner without the reserve met")
			}
		})
	}
}

func TestCheckDoesNotChangeTheLot(t *testing.T) {
	l, _ := Open(spec(), t0)
	if _, err := l.Check(at(55), Bid{ID: "1", Bidder: "a", Amount: 100}); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.High(); ok || !l.EndsAt().Equal(at(60)) {
		t.Fatal("Check changed the lot")
	}
}

func TestDue(t *testing.T) {
	l, _ := Open(spec(), t0)
	if l.Due(at(59.999)) || !l.Due(at(60)) {
		t.Fatal("Due is wrong around the end")
	}
	_, _ = l.Close(at(60))
	if l.Due(at(61)) {
		t.Fatal("a closed lot is not due")
	}
}

func TestSnapshotHidesReserve(t *testing.T) {
	s := spec()
	s.Reserve = 5000
	l, _ := Open(s, t0)
	_, _ = l.Bid(at(1), Bid{ID: "1", Bidder: "a", Amount: 100})
	snap := l.Snapshot()
	if !snap.HasReserve || snap.ReserveMet || snap.HighBidder != "a" || snap.MinNext != 110 || !snap.Open {
		t.Fatalf("snapshot %+v", snap)
	}
}

// TestSnapshotBeforeFirstBid: a lot without bids still sends highBidder and highAmount
// (empty and 0, as docs/PROTOCOL.md says), and the start price as the next minimum.
func TestSnapshotBeforeFirstBid(t *testing.T) {
	l, _ := Open(spec(), t0)
	b, err := json.Marshal(l.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"highBidder":""`, `"highAmount":0`, `"minNext":100`, `"bids":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("snapshot %s lacks %s", b, want)
		}
	}
}

func TestFromRecordsRebuildsTheLot(t *testing.T) {
	l, _ := Open(spec(), t0)
	recs := []Record{OpenRecord(l.Spec())}
	for i, b := range []Bid{{ID: "1", Bidder: "a", Amount: 100}, {ID: "2", Bidder: "b", Amount: 150}, {ID: "3", Bidder: "a", Amount: 160}} {
		o, err := l.Bid(at(45+float64(i)*5), b)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, BidRecord(o.Bid))
	}
	r, _ := l.Close(l.EndsAt())
	recs = append(recs, CloseRecord(r.ClosedAt))
	got, err := FromRecords(recs)
	if err != nil {
		t.Fatal(err)
	}
	if got.Snapshot() != l.Snapshot() {
		t.Fatalf("rebuilt %+v\nwant    %+v", got.Snapshot(), l.Snapshot())
	}
	// A log with a bid the rules refuse is corrupt.
	bad := append(recs[:2:2], BidRecord(Bid{ID: "z", Bidder: "z", Amount: 1, At: at(1)}))
	if _, err := FromRecords(bad); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("err = %v, want ErrBadRecord", err)
	}
	if _, err := FromRecords(recs[1:]); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("err = %v, want ErrBadRecord without an open", err)
	}
}
