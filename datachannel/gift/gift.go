package gift

import (
	"errors"
	"fmt"
	"time"

	"github.com/glintlive/glint/datachannel/usertext"
)

var (
	// ErrInvalid: a gift the rules refuse (no key, bad amount or currency, long message).
	ErrInvalid = errors.New("gift: invalid")
	// ErrKeyReused: the key was used before by the same sender for a different gift.
	ErrKeyReused = errors.New("gift: idempotency key reused for a different gift")
)

// Limits.
const (
	MaxKeyLen     = 64
	MaxMessageLen = 200
	MaxNameLen    = 40
	MaxAmount     = int64(1) << 40
)

// Gift is one gift. Key is the client's idempotency key; At the server's time of
// acceptance; MediaTime what the sender was watching.
type Gift struct {
	Key       string    `json:"key"`
	From      string    `json:"from"`
	Name      string    `json:"gift,omitempty"` // "rose", "rocket", ...
	Amount    int64     `json:"amount"`         // minor units
	Currency  string    `json:"currency"`       // ISO 4217, upper case
	Message   string    `json:"message,omitempty"`
	MediaTime int64     `json:"mediaTime,omitempty"`
	At        time.Time `json:"at"`
}

// same reports whether two gifts are the same request (ignoring server-set fields).
func (g Gift) same(o Gift) bool {
	return g.Key == o.Key && g.From == o.From && g.Name == o.Name && g.Amount == o.Amount &&
		g.Currency == o.Currency && g.Message == o.Message
}

// Entry is a recorded gift and the sequence of its record in the room's gift log, which
// a retry's ack repeats; 0 where the sequence is unknown.
type Entry struct {
	Gift
	Seq uint64
}

// Ledger remembers the gifts of a room, by (sender, key). Not safe for concurrent use.
type Ledger struct {
	max   int
	byKey map[[2]string]Entry
	fifo  [][2]string
	total map[string]int64 // currency -> sum
}

// NewLedger returns a ledger that remembers the last max keys for idempotency.
func NewLedger(max int) *Ledger {
	return &Ledger{max: max, byKey: map[[2]string]Entry{}, total: map[string]int64{}}
}

// Check validates g and says whether it is a retry of a gift already recorded (then the
// recorded entry is returned). A key reused for another gift is ErrKeyReused.
func (l *Ledger) Check(g Gift) (Entry, bool, error) {
	if prev, ok := l.byKey[[2]string{g.From, g.Key}]; ok {
		if !prev.same(g) {
			return Entry{}, false, ErrKeyReused
		}
		return prev, true, nil
	}
	switch {
	case g.From == "" || g.Key == "" || len(g.Key) > MaxKeyLen:
		return Entry{}, false, fmt.Errorf("%w: a gift needs a sender and a key of 1..%d bytes", ErrInvalid, MaxKeyLen)
	case g.Amount <= 0 || g.Amount > MaxAmount:
		return Entry{}, false, fmt.Errorf("%w: amount must be 1..%d", ErrInvalid, MaxAmount)
	case !currency(g.Currency):
		return Entry{}, false, fmt.Errorf("%w: currency must be three upper-case letters", ErrInvalid)
	case len(g.Message) > MaxMessageLen:
		return Entry{}, false, fmt.Errorf("%w: message is at most %d bytes", ErrInvalid, MaxMessageLen)
	case len(g.Name) > MaxNameLen:
		return Entry{}, false, fmt.Errorf("%w: gift name is at most %d bytes", ErrInvalid, MaxNameLen)
	}
	if err := usertext.Check(g.Message, usertext.Lines); err != nil {
		return Entry{}, false, fmt.Errorf("%w: message: %w", ErrInvalid, err)
	}
	if err := usertext.Check(g.Name, usertext.Line); err != nil {
		return Entry{}, false, fmt.Errorf("%w: gift name: %w", ErrInvalid, err)
	}
	return Entry{Gift: g}, false, nil
}

// Record stores a gift that passed Check and was made durable as record seq of the gift
// log (0 if unknown), forgetting the oldest key beyond the ledger's size. A retry returns
// the recorded entry, with the first record's sequence, and dup set.
func (l *Ledger) Record(g Gift, seq uint64) (rec Entry, dup bool, err error) {
	rec, dup, err = l.Check(g)
	if err != nil || dup {
		return rec, dup, err
	}
	rec.Seq = seq
	k := [2]string{g.From, g.Key}
	l.byKey[k] = rec
	l.fifo = append(l.fifo, k)
	if len(l.fifo) > l.max {
		delete(l.byKey, l.fifo[0])
		l.fifo = l.fifo[1:]
	}
	l.total[g.Currency] += g.Amount
	return rec, false, nil
}

// Total is the sum of recorded gifts in a currency.
func (l *Ledger) Total(currency string) int64 { return l.total[currency] }

func currency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
