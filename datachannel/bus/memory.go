package bus

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"
)

// Memory is a Bus in this process's memory, with the same ordering, expected-sequence
// and deduplication rules as NATS. Nothing survives Close: neither the logs nor the
// positions of Consume's durable names. It is for tests and benchmarks of the layers
// above; `glint serve` always uses NATS.
type Memory struct {
	*memStore
	node string
}

// memStore is what every node's view of one Memory bus shares.
type memStore struct {
	mu      sync.Mutex
	records []Record // every log, in one sequence like a stream
	msgIDs  map[string]uint64
	subs    map[*memSub]struct{}
	closed  bool
	history int
	nodes   int

	durables  map[string]*memDurable
	consumers map[*memConsumer]struct{}
	changed   chan struct{} // closed and replaced on every append and acknowledgement
}

var _ Bus = (*Memory)(nil)

// NewMemory returns an empty in-memory bus that keeps history records per room up to
// DefaultConfig().ChatHistory.
func NewMemory() *Memory {
	return &Memory{memStore: &memStore{msgIDs: map[string]uint64{}, subs: map[*memSub]struct{}{},
		history: DefaultConfig().ChatHistory, nodes: 1, durables: map[string]*memDurable{},
		consumers: map[*memConsumer]struct{}{}, changed: make(chan struct{})}, node: "memory-1"}
}

// Peer returns another node's view of the same bus: the same logs and subjects under its
// own node id, as a second server on one NATS cluster would have. Closing any view
// closes the bus for all.
func (m *Memory) Peer() *Memory {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes++
	return &Memory{memStore: m.memStore, node: fmt.Sprint("memory-", m.nodes)}
}

// Node implements Bus.
func (m *Memory) Node() string { return m.node }

// Publish implements Bus. Delivery is synchronous, in the caller's goroutine.
func (m *Memory) Publish(room, topic string, data []byte) error {
	if topic == "*" {
		return fmt.Errorf("%w: publish to a wildcard", ErrInvalid)
	}
	subj := eventSubject(room, topic)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	var targets []*memSub
	for s := range m.subs {
		if match(s.pattern, subj) {
			targets = append(targets, s)
		}
	}
	m.mu.Unlock()
	for _, s := range targets {
		s.deliver(Msg{Room: room, Topic: topic, Node: m.node, Data: append([]byte(nil), data...)})
	}
	return nil
}

// Subscribe implements Bus.
func (m *Memory) Subscribe(room, topic string, fn func(Msg)) (Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	s := &memSub{m: m.memStore, pattern: eventSubject(room, topic), fn: fn}
	m.subs[s] = struct{}{}
	return s, nil
}

// Append implements Bus.
func (m *Memory) Append(_ context.Context, l Log, data []byte, o AppendOptions) (Ack, error) {
	s := string(l)
	if strings.ContainsAny(s, "*>") || !(strings.HasPrefix(s, logPrefix) || strings.HasPrefix(s, historyPrefix)) {
		return Ack{}, fmt.Errorf("%w: %q is not a log", ErrInvalid, l)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Ack{}, ErrClosed
	}
	if o.MsgID != "" {
		if seq, ok := m.msgIDs[o.MsgID]; ok {
			return Ack{Seq: seq, Duplicate: true}, nil
		}
	}
	if o.ExpectLast != nil {
		var last uint64
		for i := len(m.records) - 1; i >= 0; i-- {
			if m.records[i].Log == l {
				last = m.records[i].Seq
				break
			}
		}
		if last != *o.ExpectLast {
			return Ack{}, fmt.Errorf("%w: last is %d", ErrConflict, last)
		}
	}
	seq := uint64(len(m.records)) + 1
	m.records = append(m.records, Record{Log: l, Seq: seq, Time: time.Now(), Data: append([]byte(nil), data...)})
	if o.MsgID != "" {
		m.msgIDs[o.MsgID] = seq
	}
	m.notify()
	return Ack{Seq: seq}, nil
}

// Replay implements Bus.
func (m *Memory) Replay(ctx context.Context, l Log, from uint64, fn func(Record) error) error {
	m.mu.Lock()
	recs := append([]Record(nil), m.records...)
	m.mu.Unlock()
	var matched []Record
	for _, r := range recs {
		if r.Seq >= from && match(string(l), string(r.Log)) {
			matched = append(matched, r)
		}
	}
	if strings.HasPrefix(string(l), historyPrefix) && len(matched) > m.history {
		matched = matched[len(matched)-m.history:]
	}
	for _, r := range matched {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// Close implements Bus. It waits for the consumers' deliveries in progress.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.subs = map[*memSub]struct{}{}
	consumers := m.consumers
	m.consumers = map[*memConsumer]struct{}{}
	m.notify()
	m.mu.Unlock()
	for c := range consumers {
		c.stop()
	}
	return nil
}

// match reports whether subject matches a pattern whose tokens may be "*".
func match(pattern, subject string) bool {
	ok, err := path.Match(strings.ReplaceAll(pattern, ".", "/"), strings.ReplaceAll(subject, ".", "/"))
	return err == nil && ok
}

type memSub struct {
	m       *memStore
	pattern string
	fn      func(Msg)

	mu      sync.Mutex
	stopped bool
}

func (s *memSub) deliver(msg Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.fn(msg)
	}
}

// Stop implements Subscription.
func (s *memSub) Stop() {
	s.m.mu.Lock()
	delete(s.m.subs, s)
	s.m.mu.Unlock()
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}
