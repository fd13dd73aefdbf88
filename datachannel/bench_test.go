package datachannel

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/signaling/auth"
)

// countingTransport counts messages and signals when a target is reached.
type countingTransport struct {
	n      atomic.Int64
	target *atomic.Int64
	wg     *sync.WaitGroup
}

func (c *countingTransport) Write(b []byte) error {
	// Count chat messages only: join state and presence updates arrive on their own.
	if !bytes.Contains(b, []byte(`"type":"chat.message"`)) {
		return nil
	}
	if c.n.Add(1) == c.target.Load() {
		c.wg.Done()
	}
	return nil
}
func (c *countingTransport) Close() error { return nil }

// BenchmarkChatFanOut sends one chat message to a room of 1,000 connections and waits
// until every connection's writer has written it: decode, rate limit, the chat rules,
// one encode, and 1,000 queue hand-offs and writes.
func BenchmarkChatFanOut(b *testing.B) {
	const conns = 1000
	cfg := DefaultConfig()
	cfg.RatePerSecond, cfg.RateBurst = 1e9, 1<<30
	cfg.Chat.Rate, cfg.Chat.Burst = 1e9, 1<<30
	cfg.Coalesce = 0 // one message at a time: coalescing would time the interval, not the work
	h, err := NewHub(cfg, bus.NewMemory(), Options{}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	var wg sync.WaitGroup
	var target atomic.Int64
	trs := make([]*countingTransport, conns)
	var sender *Conn
	for i := range trs {
		trs[i] = &countingTransport{target: &target, wg: &wg}
		c, err := h.Join(room1, &auth.Claims{Identity: fmt.Sprint("u", i), Room: room1, RoomJoin: true, CanPublishData: true, RoomAdmin: i == 0}, trs[i])
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			sender = c
		}
	}
	msg := []byte(`{"v":1,"type":"chat.send","payload":{"text":"hello everyone, this is a chat message"}}`)
	// One warm-up message, so every connection has been through its join.
	wg.Add(conns)
	target.Store(1)
	if err := sender.Receive(msg); err != nil {
		b.Fatal(err)
	}
	wg.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wg.Add(conns)
		target.Add(1)
		if err := sender.Receive(msg); err != nil {
			b.Fatal(err)
		}
		wg.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*conns)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkBidDurable places bids one after another on one lot through the hub, each
// acknowledged only after the embedded NATS JetStream (file storage) stored it: the
// throughput of strictly ordered, durable bids in one room.
func BenchmarkBidDurable(b *testing.B) {
	b.Run("os-flush", func(b *testing.B) { benchmarkBids(b, false) })
	b.Run("sync-always", func(b *testing.B) { benchmarkBids(b, true) })
}

func benchmarkBids(b *testing.B, syncAlways bool) {
	cfg := bus.DefaultConfig()
	cfg.DataDir = b.TempDir()
	cfg.SyncAlways = syncAlways
	nb, err := bus.Open(context.Background(), cfg, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Close()
	hc := DefaultConfig()
	hc.RatePerSecond, hc.RateBurst = 1e9, 1<<30
	h, err := NewHub(hc, nb, Options{}, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	acks := make(chan string, 1)
	bidders := make([]*Conn, 3) // [2] opens the lot: sellers do not bid
	for i := range bidders {
		tr := &ackTransport{acks: acks}
		c, err := h.Join(room1, &auth.Claims{Identity: fmt.Sprint("b", i), Room: room1, RoomJoin: true, CanPublishData: true, RoomAdmin: true}, tr)
		if err != nil {
			b.Fatal(err)
		}
		bidders[i] = c
	}
	open := fmt.Sprintf(`{"v":1,"type":"auction.open","id":"open","payload":{"lotId":"lot","startPrice":1,"increment":1,"durationMs":%d}}`, int64(time.Hour/time.Millisecond))
	if err := bidders[2].Receive([]byte(open)); err != nil {
		b.Fatal(err)
	}
	if got := <-acks; got != "" {
		b.Fatal(got)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		msg := fmt.Sprintf(`{"v":1,"type":"auction.bid","id":"x%d","payload":{"lotId":"lot","bidId":"x%d","amount":%d}}`, i, i, i+1)
		if err := bidders[i%2].Receive([]byte(msg)); err != nil {
			b.Fatal(err)
		}
		if got := <-acks; got != "" {
			b.Fatal(got)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "bids/s")
}

// ackTransport reports each answer: "" for an ack, the message for an error.
type ackTransport struct{ acks chan string }

func (a *ackTransport) Write(b []byte) error {
	switch {
	case bytes.Contains(b, []byte(`"type":"ack"`)):
		a.acks <- ""
	case bytes.Contains(b, []byte(`"type":"error"`)):
		a.acks <- string(b)
	}
	return nil
}
func (a *ackTransport) Close() error { return nil }
