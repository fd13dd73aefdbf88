package bus

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// natsConsumer is Consume on a durable JetStream pull consumer. It hands out one record
// at a time (MaxAckPending 1), so the log's order holds across every node pulling from
// it and a failing record holds back the ones after it instead of being overtaken.
type natsConsumer struct {
	bus     *NATS
	stream  jetstream.Stream
	cfg     jetstream.ConsumerConfig
	opt     ConsumeOptions
	fn      func(Record) error
	log     *zap.Logger
	stopped chan struct{} // closed by Stop
	done    chan struct{} // closed when run returns
	once    sync.Once

	mu   sync.Mutex // guards cons and iter, which resume replaces
	cons jetstream.Consumer
	iter jetstream.MessagesContext
}

var _ Consumer = (*natsConsumer)(nil)

// Consume implements Bus.
func (b *NATS) Consume(ctx context.Context, l Log, durable string, opt ConsumeOptions, fn func(Record) error) (Consumer, error) {
	if err := checkConsume(l, durable, fn); err != nil {
		return nil, err
	}
	s, err := b.stream(l)
	if err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	c := &natsConsumer{bus: b, stream: s, opt: opt, fn: fn, stopped: make(chan struct{}), done: make(chan struct{}),
		log: b.log.With(zap.String("consumer", durable)),
		cfg: jetstream.ConsumerConfig{
			Durable: durable, FilterSubject: string(l), Description: "Glint consumer of " + string(l),
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: opt.AckWait, MaxAckPending: 1, MaxDeliver: -1,
			DeliverPolicy: jetstream.DeliverNewPolicy,
		}}
	if err := c.open(ctx); err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.isClosed {
		b.mu.Unlock()
		c.iter.Stop()
		return nil, ErrClosed
	}
	b.consumers[c] = struct{}{}
	b.mu.Unlock()
	go c.run()
	return c, nil
}

// open creates the durable consumer on the server, or finds it with its position, and
// starts pulling from it.
func (c *natsConsumer) open(ctx context.Context) error {
	ctx, cancel := c.bus.timeout(ctx)
	defer cancel()
	cons, err := c.stream.CreateOrUpdateConsumer(ctx, c.cfg)
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", c.cfg.Durable, c.bus.wrap(err))
	}
	iter, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return fmt.Errorf("bus: consumer %s: %w", c.cfg.Durable, c.bus.wrap(err))
	}
	c.mu.Lock()
	c.cons, c.iter = cons, iter
	c.mu.Unlock()
	return nil
}

func (c *natsConsumer) run() {
	defer close(c.done)
	for {
		c.mu.Lock()
		iter := c.iter
		c.mu.Unlock()
		m, err := iter.Next()
		if err == nil {
			if c.isStopped() {
				_ = m.Nak() // pulled as we stopped: hand it straight to another node
				continue
			}
			c.deliver(m)
			continue
		}
		if c.isStopped() || c.bus.nc.IsClosed() {
			return
		}
		// The iterator ended on its own: the consumer was deleted on the server, or
		// heartbeats stopped. Set it up again rather than stop delivering.
		c.log.Warn("consumer interrupted; resuming", zap.Error(err))
		iter.Stop()
		if !c.resume() {
			return
		}
	}
}

// resume reopens the consumer, with back-off, until it works or Stop is called.
func (c *natsConsumer) resume() bool {
	for failures := 1; ; failures++ {
		select {
		case <-c.stopped:
			return false
		case <-time.After(Backoff(c.opt.RetryMin, c.opt.RetryMax, failures)):
		}
		err := c.open(context.Background())
		if err == nil {
			if c.isStopped() { // Stop drained the old iterator; this one is ours to end
				c.iter.Stop()
				return false
			}
			return true
		}
		c.log.Warn("resuming consumer", zap.Error(err))
	}
}

// deliver calls fn with one message and acknowledges it, or hands it back to be
// delivered again after the back-off.
func (c *natsConsumer) deliver(m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		c.log.Error("message without JetStream metadata", zap.Error(err))
		_ = m.Nak()
		return
	}
	rec := Record{Log: Log(m.Subject()), Seq: meta.Sequence.Stream, Time: meta.Timestamp, Data: m.Data(),
		Delivery: int(meta.NumDelivered)}
	working := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(c.opt.AckWait / 3)
		defer tick.Stop()
		for {
			select {
			case <-working:
				return
			case <-tick.C:
				_ = m.InProgress()
			}
		}
	}()
	err = c.fn(rec)
	close(working)
	wg.Wait()
	switch {
	case err == nil:
		// Wait for the server to take the ack, so the next record is not held back by
		// MaxAckPending; a lost ack only means one more delivery of this record.
		ctx, cancel := c.bus.timeout(context.Background())
		if err := m.DoubleAck(ctx); err != nil {
			c.log.Debug("ack not confirmed; the record may be delivered again", zap.Uint64("seq", rec.Seq), zap.Error(err))
		}
		cancel()
	case c.isStopped():
		_ = m.Nak()
	default:
		_ = m.NakWithDelay(Backoff(c.opt.RetryMin, c.opt.RetryMax, rec.Delivery))
	}
}

func (c *natsConsumer) isStopped() bool {
	select {
	case <-c.stopped:
		return true
	default:
		return false
	}
}

// Stop implements Consumer.
func (c *natsConsumer) Stop() {
	c.bus.mu.Lock()
	if c.bus.consumers != nil {
		delete(c.bus.consumers, c)
	}
	c.bus.mu.Unlock()
	c.stop()
}

func (c *natsConsumer) stop() {
	c.once.Do(func() {
		close(c.stopped)
		c.mu.Lock()
		iter := c.iter
		c.mu.Unlock()
		iter.Drain() // buffered messages still reach run, which hands them back
	})
	<-c.done
}

// Pending implements Consumer.
func (c *natsConsumer) Pending(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	cons := c.cons
	c.mu.Unlock()
	ctx, cancel := c.bus.timeout(ctx)
	defer cancel()
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", c.cfg.Durable, c.bus.wrap(err))
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}
