package datachannel

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

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
