package auction

import (
	"fmt"
	"time"
)

// Record kinds.
const (
	KindOpen  = "open"
	KindBid   = "bid"
	KindClose = "close"
)

// Record is one durable change to a lot, in the order it happened. A lot's records are
// its whole history: applying them in order to nothing rebuilds it exactly, because every
// record carries the time the server decided it at.
type Record struct {
	Kind string     `json:"kind"`
	Spec *Spec      `json:"spec,omitempty"`
	Bid  *Bid       `json:"bid,omitempty"`
	At   *time.Time `json:"at,omitempty"` // close time
}

// OpenRecord, BidRecord and CloseRecord build the record for a change.
func OpenRecord(s Spec) Record        { return Record{Kind: KindOpen, Spec: &s} }
func BidRecord(b Bid) Record          { return Record{Kind: KindBid, Bid: &b} }
func CloseRecord(at time.Time) Record { return Record{Kind: KindClose, At: &at} }

// FromRecords rebuilds a lot from its records. The first must open it.
func FromRecords(recs []Record) (*Lot, error) {
	if len(recs) == 0 || recs[0].Kind != KindOpen || recs[0].Spec == nil {
		return nil, fmt.Errorf("%w: the first record must open the lot", ErrBadRecord)
	}
	l, err := restore(*recs[0].Spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRecord, err)
	}
	for _, r := range recs[1:] {
		if err := l.Apply(r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Apply replays one record after the open. A record the rules would refuse is
// ErrBadRecord: the log was written by this package, so that means corruption. A
// duplicate bid is ignored, so replaying a log with a retried write is harmless.
func (l *Lot) Apply(r Record) error {
	switch {
	case r.Kind == KindBid && r.Bid != nil:
		if _, err := l.Bid(r.Bid.At, *r.Bid); err != nil {
			return fmt.Errorf("%w: bid %q: %w", ErrBadRecord, r.Bid.ID, err)
		}
	case r.Kind == KindClose && r.At != nil:
		if _, err := l.Close(*r.At); err != nil {
			return fmt.Errorf("%w: %w", ErrBadRecord, err)
		}
	default:
		return fmt.Errorf("%w: kind %q", ErrBadRecord, r.Kind)
	}
	return nil
}
