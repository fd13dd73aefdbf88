package auction

import (
	"fmt"
	"time"

	"github.com/glintlive/glint/datachannel/usertext"
)

// MaxAmount bounds amounts (minor currency units) so sums and increments cannot overflow
// and a typo of ten extra zeros is refused.
const MaxAmount = int64(1) << 50

// MaxIDLen bounds lot and bid ids.
const MaxIDLen = 64

// Spec describes a lot when it opens. Amounts are integers in minor units (cents).
type Spec struct {
	LotID       string        `json:"lotId"`
	Title       string        `json:"title"`
	StartPrice  int64         `json:"startPrice"`
	Increment   int64         `json:"increment"`
	Reserve     int64         `json:"reserve,omitempty"` // 0: no reserve
	EndsAt      time.Time     `json:"endsAt"`
	SnipeWindow time.Duration `json:"snipeWindow,omitempty"` // 0: no anti-sniping
	SnipeExtend time.Duration `json:"snipeExtend,omitempty"`
	OpenedAt    time.Time     `json:"openedAt"`
	// Seller is the identity that opened the lot; it may not bid on it (shill bidding).
	Seller string `json:"seller,omitempty"`
}

// Bid is one bid. ID is chosen by the client and makes retries idempotent; At is the
// server's time of acceptance; MediaTime is the capture time (unix ms) of the frame the
// bidder was watching.
type Bid struct {
	ID        string    `json:"bidId"`
	Bidder    string    `json:"bidder"`
	Amount    int64     `json:"amount"`
	MediaTime int64     `json:"mediaTime,omitempty"`
	At        time.Time `json:"at"`
}

// Outcome is what accepting a bid did.
type Outcome struct {
	Bid       Bid
	Duplicate bool      // a retry of a bid already accepted; nothing changed
	Outbid    *Bid      // the previous high bid, now beaten
	EndsAt    time.Time // the lot's end after this bid
	Extended  bool      // the bid fell in the snipe window and pushed the end back
	Index     int       // the bid's position in the lot's accepted bids, from 0
}

// Result is how a lot ended.
type Result struct {
	LotID      string    `json:"lotId"`
	Winner     *Bid      `json:"winner,omitempty"` // nil: unsold
	ReserveMet bool      `json:"reserveMet"`
	ClosedAt   time.Time `json:"closedAt"`
	Bids       int       `json:"bids"`
}

// Lot is one lot's state. It is not safe for concurrent use; a room serialises calls.
type Lot struct {
	spec       Spec
	endsAt     time.Time
	closed     *Result
	bids       []Bid
	seen       map[bidKey]int // index into bids
	extensions int
}

type bidKey struct{ bidder, id string }

// Open validates spec and returns an open lot. The end must be after now (spec.OpenedAt is
// set to now).
func Open(spec Spec, now time.Time) (*Lot, error) {
	spec.OpenedAt = now
	if !spec.EndsAt.After(now) {
		return nil, fmt.Errorf("%w: ends at %v, not after now", ErrInvalidSpec, spec.EndsAt)
	}
	// Checked on open only: a lot already in a log replays whatever its title.
	if err := usertext.Check(spec.Title, usertext.Line); err != nil {
		return nil, fmt.Errorf("%w: title: %w", ErrInvalidSpec, err)
	}
	return restore(spec)
}

func restore(spec Spec) (*Lot, error) {
	switch {
	case spec.LotID == "" || len(spec.LotID) > MaxIDLen:
		return nil, fmt.Errorf("%w: lot id must be 1..%d bytes", ErrInvalidSpec, MaxIDLen)
	case len(spec.Title) > 200:
		return nil, fmt.Errorf("%w: title longer than 200 bytes", ErrInvalidSpec)
	case spec.StartPrice <= 0 || spec.StartPrice > MaxAmount:
		return nil, fmt.Errorf("%w: start price must be 1..%d", ErrInvalidSpec, MaxAmount)
	case spec.Increment <= 0 || spec.Increment > MaxAmount:
		return nil, fmt.Errorf("%w: increment must be 1..%d", ErrInvalidSpec, MaxAmount)
	case spec.Reserve < 0 || spec.Reserve > MaxAmount:
		return nil, fmt.Errorf("%w: reserve must be 0..%d", ErrInvalidSpec, MaxAmount)
	case spec.SnipeWindow < 0 || spec.SnipeExtend < 0 || spec.SnipeWindow > time.Hour || spec.SnipeExtend > time.Hour:
		return nil, fmt.Errorf("%w: snipe window and extension must be 0..1h", ErrInvalidSpec)
	case (spec.SnipeWindow > 0) != (spec.SnipeExtend > 0):
		return nil, fmt.Errorf("%w: snipe window and extension go together", ErrInvalidSpec)
	case spec.EndsAt.Sub(spec.OpenedAt) > 7*24*time.Hour:
		return nil, fmt.Errorf("%w: a lot runs at most 7 days", ErrInvalidSpec)
	}
	return &Lot{spec: spec, endsAt: spec.EndsAt, seen: map[bidKey]int{}}, nil
}

// Spec returns the lot as opened.
func (l *Lot) Spec() Spec { return l.spec }

// EndsAt is the current end, after any anti-snipe extensions.
func (l *Lot) EndsAt() time.Time { return l.endsAt }

// Closed returns the result once the lot has closed.
func (l *Lot) Closed() (Result, bool) {
	if l.closed == nil {
		return Result{}, false
	}
	return *l.closed, true
}

// High returns the high bid, if any.
func (l *Lot) High() (Bid, bool) {
	if len(l.bids) == 0 {
		return Bid{}, false
	}
	return l.bids[len(l.bids)-1], true
}

// Bids returns the accepted bids in order (a copy).
func (l *Lot) Bids() []Bid { return append([]Bid(nil), l.bids...) }

// MinNext is the lowest amount the next bid may offer.
func (l *Lot) MinNext() int64 {
	if h, ok := l.High(); ok {
		return h.Amount + l.spec.Increment
	}
	return l.spec.StartPrice
}

// Due reports whether the lot is open and its end has passed, so the caller should Close.
func (l *Lot) Due(now time.Time) bool { return l.closed == nil && !now.Before(l.endsAt) }

// Check says what Bid(now, b) would do without changing the lot, so the caller can make
// the bid durable first and apply it after. A retry of an accepted bid is not an error:
// it returns the original outcome with Duplicate set.
func (l *Lot) Check(now time.Time, b Bid) (Outcome, error) {
	if i, ok := l.seen[bidKey{b.Bidder, b.ID}]; ok {
		return Outcome{Bid: l.bids[i], Duplicate: true, EndsAt: l.endsAt, Index: i}, nil
	}
	switch {
	case b.Bidder == "" || b.ID == "" || len(b.ID) > MaxIDLen:
		return Outcome{}, fmt.Errorf("%w: a bid needs a bidder and an id of 1..%d bytes", ErrInvalidBid, MaxIDLen)
	case b.Amount <= 0 || b.Amount > MaxAmount:
		return Outcome{}, fmt.Errorf("%w: amount must be 1..%d", ErrInvalidBid, MaxAmount)
	case l.closed != nil || !now.Before(l.endsAt):
		return Outcome{}, ErrClosed
	case b.Bidder == l.spec.Seller:
		return Outcome{}, ErrSellerBid
	}
	high, hasHigh := l.High()
	if hasHigh && high.Bidder == b.Bidder {
		return Outcome{}, ErrAlreadyHighest
	}
	if min := l.MinNext(); b.Amount < min {
		return Outcome{}, fmt.Errorf("%w: at least %d", ErrTooLow, min)
	}
	b.At = now
	o := Outcome{Bid: b, EndsAt: l.endsAt, Index: len(l.bids)}
	if hasHigh {
		o.Outbid = &high
	}
	if l.spec.SnipeWindow > 0 && l.endsAt.Sub(now) <= l.spec.SnipeWindow {
		o.EndsAt = l.endsAt.Add(l.spec.SnipeExtend)
		o.Extended = true
	}
	return o, nil
}

// Bid accepts b at now if the rules allow it (see Check) and returns what it did.
func (l *Lot) Bid(now time.Time, b Bid) (Outcome, error) {
	o, err := l.Check(now, b)
	if err != nil || o.Duplicate {
		return o, err
	}
	l.seen[bidKey{o.Bid.Bidder, o.Bid.ID}] = len(l.bids)
	l.bids = append(l.bids, o.Bid)
	if o.Extended {
		l.extensions++
	}
	l.endsAt = o.EndsAt
	return o, nil
}

// Close ends the lot at now, whether or not its end has passed (a host may close early),
// and names the winner. Closing a closed lot is ErrClosed.
func (l *Lot) Close(now time.Time) (Result, error) {
	if l.closed != nil {
		return *l.closed, ErrClosed
	}
	r := Result{LotID: l.spec.LotID, ClosedAt: now, Bids: len(l.bids)}
	if h, ok := l.High(); ok && h.Amount >= l.spec.Reserve {
		r.Winner, r.ReserveMet = &h, true
	}
	if len(l.bids) == 0 && l.spec.Reserve == 0 {
		r.ReserveMet = true
	}
	l.closed = &r
	return r, nil
}
