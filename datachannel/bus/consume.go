package bus

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// Consumer is a running Bus.Consume.
type Consumer interface {
	// Stop ends the consumer and waits for a delivery in progress; fn is not called after
	// Stop returns. A record fn has not returned nil for is delivered again later, by
	// this node or another. Must not be called from inside fn.
	Stop()
	// Pending is how many records of the consumer's logs its durable name has not
	// acknowledged yet, the one being delivered included.
	Pending(ctx context.Context) (uint64, error)
}

// ConsumeOptions tune Bus.Consume; the zero value takes the defaults.
type ConsumeOptions struct {
	// RetryMin is the wait before a record fn failed on is delivered again; it doubles
	// with each further failure of that record up to RetryMax. Defaults: 1s and 1m.
	RetryMin, RetryMax time.Duration
	// AckWait is how long a node may hold a record without answering before the bus
	// gives it to another (the node died mid-delivery); a node still working on one
	// says so every AckWait/3. It also bounds how long after a restart a record that
	// was waiting out its back-off is delivered again. Default 30s; unused by Memory,
	// which dies with its only node.
	AckWait time.Duration
}

// Default redelivery back-off of Consume.
const (
	DefaultRetryMin = time.Second
	DefaultRetryMax = time.Minute
	DefaultAckWait  = 30 * time.Second
)

func (o ConsumeOptions) withDefaults() ConsumeOptions {
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.AckWait <= 0 {
		o.AckWait = DefaultAckWait
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = o.RetryMin
	}
	return o
}

// Backoff is the wait before the next delivery of a record that failed failures times
// in a row: min, then doubling, never above max.
func Backoff(min, max time.Duration, failures int) time.Duration {
	if failures < 1 {
		return 0
	}
	d := min
	for i := 1; i < failures; i++ {
		if d >= max/2 { // doubling would pass max (and, far enough, overflow)
			return max
		}
		d *= 2
	}
	if d > max {
		return max
	}
	return d
}

// durableRE is what both buses accept as a durable name: NATS refuses dots, wildcards,
// whitespace and path separators in one, and it must stay short enough to read.
var durableRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func checkConsume(l Log, durable string, fn func(Record) error) error {
	switch {
	case !durableRE.MatchString(durable):
		return fmt.Errorf("%w: durable name %q (want 1..64 of [A-Za-z0-9_-])", ErrInvalid, durable)
	case fn == nil:
		return fmt.Errorf("%w: no function to consume with", ErrInvalid)
	case !isLog(l):
		return fmt.Errorf("%w: %q is not a log", ErrInvalid, l)
	}
	return nil
}
