package bus

import (
	"context"
	"time"
)

// Bus is what the interaction layer needs from its message bus.
type Bus interface {
	// Publish sends data to every current subscriber of room/topic, on any node. It does
	// not wait for delivery and nothing is stored.
	Publish(room, topic string, data []byte) error
	// Subscribe calls fn, from one goroutine in publication order, for each message on
	// room/topic until the subscription is stopped or the bus closed. topic "*" is every
	// topic of the room.
	Subscribe(room, topic string, fn func(Msg)) (Subscription, error)
	// Append stores data at the end of log and returns its sequence once it is durable.
	Append(ctx context.Context, log Log, data []byte, opt AppendOptions) (Ack, error)
	// Replay calls fn for each record of log (a Log may end in a wildcard, see
	// AuctionLogs) with sequence at least from, in order, up to the log's end when
	// Replay was called. An error from fn stops the replay and is returned.
	Replay(ctx context.Context, log Log, from uint64, fn func(Record) error) error
	// Consume calls fn, from one goroutine, for each record of log (which may end in a
	// wildcard, see GiftLogs) that the consumer named durable has not acknowledged, in
	// order. A record is acknowledged when fn returns nil; when fn fails the record is
	// delivered again after a back-off (opt), and nothing after it is delivered before
	// it: records are never skipped or dropped. Consumers with one durable name share
	// its position, on any node, so each record goes to one of them at a time (a work
	// queue across the cluster); the position survives restarts where the bus does. A
	// durable name seen for the first time starts after the log's current end. ctx
	// bounds setting the consumer up, not its life: Stop it.
	Consume(ctx context.Context, log Log, durable string, opt ConsumeOptions, fn func(Record) error) (Consumer, error)
	// Node identifies this process among the nodes sharing the bus; Msg.Node says which
	// node published a message, so a node can skip its own.
	Node() string
	// Close stops every subscription and releases the connection (and the embedded
	// server); it waits for all of it and may be called more than once.
	Close() error
}

// Subscription is a live Subscribe.
type Subscription interface {
	// Stop ends the subscription; fn is not called after Stop returns.
	Stop()
}

// Msg is one published message.
type Msg struct {
	Room, Topic string
	Node        string // the publisher's Bus.Node
	Data        []byte
}

// AppendOptions make an append conditional or idempotent.
type AppendOptions struct {
	// ExpectLast, when set, is the sequence the log's last record must have (0: the log
	// must be empty). A mismatch is ErrConflict and nothing is stored.
	ExpectLast *uint64
	// MsgID deduplicates: a second Append with the same id within the bus's
	// deduplication window stores nothing and returns the first one's sequence with
	// Duplicate set.
	MsgID string
}

// Expect returns a pointer to seq, for AppendOptions.ExpectLast.
func Expect(seq uint64) *uint64 { return &seq }

// Ack says where an append landed.
type Ack struct {
	Seq       uint64
	Duplicate bool
}

// Record is one stored entry of a log.
type Record struct {
	Log  Log // the concrete log (no wildcard)
	Seq  uint64
	Time time.Time
	Data []byte
	// Delivery counts the times Consume has handed this record to its durable name,
	// this one included (1 the first time); 0 from Replay.
	Delivery int
}
