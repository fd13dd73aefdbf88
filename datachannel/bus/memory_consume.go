package bus

import (
	"context"
	"sync"
	"time"
)

// memDurable is a durable consumer's position in a Memory bus, shared by every Consume
// with its name on any Peer. It lives as long as the bus: not across restarts.
type memDurable struct {
	pattern   string
	acked     uint64    // the last record acknowledged (or the log's end when created)
	busy      bool      // a consumer of this name is delivering
	failures  int       // failed deliveries of the record after acked, in a row
	notBefore time.Time // when that record may be delivered again
}

// memConsumer is one Consume on a Memory bus.
type memConsumer struct {
	m       *memStore
	name    string
	opt     ConsumeOptions
	fn      func(Record) error
	stopped chan struct{}
	done    chan struct{}
	once    sync.Once
}

var _ Consumer = (*memConsumer)(nil)

// Consume implements Bus with the same rules as NATS, in this process: one record of a
// durable name in delivery at a time over all its consumers, redelivery after the
// back-off, and a new name starting after the log's end.
func (m *Memory) Consume(_ context.Context, l Log, durable string, opt ConsumeOptions, fn func(Record) error) (Consumer, error) {
	if err := checkConsume(l, durable, fn); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	d := m.durables[durable]
	if d == nil {
		d = &memDurable{acked: uint64(len(m.records))}
		m.durables[durable] = d
	}
	d.pattern = string(l) // as NATS does when a consumer is updated with a new filter
	c := &memConsumer{m: m.memStore, name: durable, opt: opt.withDefaults(), fn: fn,
		stopped: make(chan struct{}), done: make(chan struct{})}
	m.consumers[c] = struct{}{}
	go c.run()
	return c, nil
}

func (c *memConsumer) run() {
	defer close(c.done)
	for {
		rec, wait, changed, ok := c.next()
		if !ok {
			return
		}
		if wait >= 0 {
			if !c.await(wait, changed) {
				return
			}
			continue
		}
		c.finish(rec, c.fn(rec))
	}
}

// await waits until changed is closed or, with wait above 0, that long. It reports
// false if the consumer was stopped meanwhile.
func (c *memConsumer) await(wait time.Duration, changed <-chan struct{}) bool {
	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-c.stopped:
		return false
	case <-changed:
	case <-timeout:
	}
	return true
}

// next claims the durable's next record, or says how long to wait (0: until something
// changes) for one. ok is false once the consumer or the bus has stopped.
func (c *memConsumer) next() (rec Record, wait time.Duration, changed <-chan struct{}, ok bool) {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || c.isStopped() {
		return Record{}, 0, nil, false
	}
	d := m.durables[c.name]
	changed = m.changed
	if d.busy {
		return Record{}, 0, changed, true
	}
	for _, r := range m.records[d.acked:] {
		if !match(d.pattern, string(r.Log)) {
			d.acked = r.Seq // nothing to deliver: skip past it, as a filtered consumer does
			continue
		}
		if left := time.Until(d.notBefore); left > 0 {
			return Record{}, left, changed, true
		}
		d.busy = true
		r.Delivery = d.failures + 1
		return r, -1, nil, true
	}
	return Record{}, 0, changed, true
}

// finish records the outcome of a delivery and wakes the durable's other consumers.
func (c *memConsumer) finish(rec Record, err error) {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.durables[c.name]
	d.busy = false
	if err == nil {
		d.acked, d.failures, d.notBefore = rec.Seq, 0, time.Time{}
	} else if !c.isStopped() {
		d.failures++
		d.notBefore = time.Now().Add(Backoff(c.opt.RetryMin, c.opt.RetryMax, d.failures))
	}
	m.notify()
}

func (c *memConsumer) isStopped() bool {
	select {
	case <-c.stopped:
		return true
	default:
		return false
	}
}

// Stop implements Consumer.
func (c *memConsumer) Stop() {
	c.m.mu.Lock()
	delete(c.m.consumers, c)
	c.m.mu.Unlock()
	c.stop()
}

func (c *memConsumer) stop() {
	c.once.Do(func() { close(c.stopped) })
	<-c.done
}

// Pending implements Consumer.
func (c *memConsumer) Pending(context.Context) (uint64, error) {
	m := c.m
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.durables[c.name]
	var n uint64
	for _, r := range m.records[d.acked:] {
		if match(d.pattern, string(r.Log)) {
			n++
		}
	}
	return n, nil
}

// notify wakes every consumer waiting for a change. Called with mu held.
func (s *memStore) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}
