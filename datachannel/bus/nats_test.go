package bus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

func openTest(t *testing.T, dir string, mod func(*Config)) *NATS {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DataDir = dir
	if mod != nil {
		mod(&cfg)
	}
	b, err := Open(context.Background(), cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func replayAll(t *testing.T, b Bus, l Log) []Record {
	t.Helper()
	var out []Record
	if err := b.Replay(context.Background(), l, 0, func(r Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// both runs a behaviour test against the NATS bus and the in-memory one, so the
// in-memory bus the hub's tests use keeps the same rules.
func both(t *testing.T, test func(*testing.T, Bus)) {
	t.Run("nats", func(t *testing.T) { test(t, openTest(t, t.TempDir(), nil)) })
	t.Run("memory", func(t *testing.T) { test(t, NewMemory()) })
}

func TestAppendExpectLast(t *testing.T) { both(t, testAppendExpectLast) }

func testAppendExpectLast(t *testing.T, b Bus) {
	ctx := context.Background()
	lot := AuctionLog("show", "lot1")
	a1, err := b.Append(ctx, lot, []byte("open"), AppendOptions{ExpectLast: Expect(0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, lot, []byte("racer"), AppendOptions{ExpectLast: Expect(0)}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second writer expecting an empty log: %v, want ErrConflict", err)
	}
	// Another subject in the same stream does not disturb this one's sequence check.
	if _, err := b.Append(ctx, GiftLog("show"), []byte("gift"), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	a2, err := b.Append(ctx, lot, []byte("bid"), AppendOptions{ExpectLast: Expect(a1.Seq)})
	if err != nil {
		t.Fatal(err)
	}
	if a2.Seq <= a1.Seq {
		t.Fatalf("seq %d after %d", a2.Seq, a1.Seq)
	}
	if _, err := b.Append(ctx, lot, []byte("stale"), AppendOptions{ExpectLast: Expect(a1.Seq)}); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale expectation: %v, want ErrConflict", err)
	}
	recs := replayAll(t, b, lot)
	if len(recs) != 2 || string(recs[0].Data) != "open" || string(recs[1].Data) != "bid" || recs[1].Log != lot {
		t.Fatalf("log %+v", recs)
	}
}

func TestAppendDeduplicates(t *testing.T) { both(t, testAppendDeduplicates) }

func testAppendDeduplicates(t *testing.T, b Bus) {
	ctx := context.Background()
	first, err := b.Append(ctx, GiftLog("r"), []byte("g"), AppendOptions{MsgID: "alice/k1"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Append(ctx, GiftLog("r"), []byte("g"), AppendOptions{MsgID: "alice/k1"})
	if err != nil || !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("retry: %+v %v, want a duplicate of seq %d", again, err, first.Seq)
	}
	if n := len(replayAll(t, b, GiftLog("r"))); n != 1 {
		t.Fatalf("%d records, want 1", n)
	}
}

// TestConcurrentWritersOneOrder races writers on one log, each appending "I follow seq
// N" with the expectation N and retrying on conflict. Every record must follow exactly
// the record before it: one order, no lost or forked appends.
func TestConcurrentWritersOneOrder(t *testing.T) { both(t, testConcurrentWritersOneOrder) }

func testConcurrentWritersOneOrder(t *testing.T, b Bus) {
	l := AuctionLog("show", "lot")
	const writers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for n := 0; n < each; {
				data := binary.BigEndian.AppendUint64(nil, last)
				ack, err := b.Append(context.Background(), l, data, AppendOptions{ExpectLast: Expect(last)})
				if errors.Is(err, ErrConflict) {
					// Catch up: the last record's sequence is the new expectation.
					recs := replayAllErr(b, l)
					last = recs[len(recs)-1].Seq
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				last = ack.Seq
				n++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	recs := replayAll(t, b, l)
	if len(recs) != writers*each {
		t.Fatalf("%d records, want %d", len(recs), writers*each)
	}
	var prev uint64
	for _, r := range recs {
		if got := binary.BigEndian.Uint64(r.Data); got != prev {
			t.Fatalf("record %d follows %d, want %d", r.Seq, got, prev)
		}
		prev = r.Seq
	}
}

func replayAllErr(b Bus, l Log) []Record {
	var out []Record
	_ = b.Replay(context.Background(), l, 0, func(r Record) error { out = append(out, r); return nil })
	return out
}

func TestReplayWildcardAndFrom(t *testing.T) { both(t, testReplayWildcardAndFrom) }

func testReplayWildcardAndFrom(t *testing.T, b Bus) {
	ctx := context.Background()
	var seqs []uint64
	for i, lot := range []string{"a", "b.c", "a", "x y"} {
		ack, err := b.Append(ctx, AuctionLog("room.1", lot), []byte(fmt.Sprint(i)), AppendOptions{})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ack.Seq)
	}
	_, _ = b.Append(ctx, AuctionLog("room.2", "a"), []byte("other room"), AppendOptions{})
	recs := replayAll(t, b, AuctionLogs("room.1"))
	if len(recs) != 4 || recs[1].Log.Lot() != "b.c" || recs[3].Log.Lot() != "x y" {
		t.Fatalf("wildcard replay %+v", recs)
	}
	var from []Record
	_ = b.Replay(ctx, AuctionLog("room.1", "a"), seqs[0]+1, func(r Record) error { from = append(from, r); return nil })
	if len(from) != 1 || string(from[0].Data) != "2" {
		t.Fatalf("replay from %d: %+v", seqs[0]+1, from)
	}
	stop := errors.New("stop")
	if err := b.Replay(ctx, AuctionLogs("room.1"), 0, func(Record) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn's error should end the replay: %v", err)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	b := openTest(t, t.TempDir(), func(c *Config) { c.ChatHistory = 3 })
	for i := 0; i < 5; i++ {
		if _, err := b.Append(context.Background(), HistoryLog("r"), []byte(fmt.Sprint(i)), AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	recs := replayAll(t, b, HistoryLog("r"))
	if len(recs) != 3 || string(recs[0].Data) != "2" {
		t.Fatalf("history %+v, want the last 3", recs)
	}
}

func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, nil)
	ack, err := b.Append(context.Background(), AuctionLog("r", "l"), []byte("bid"), AppendOptions{ExpectLast: Expect(0)})
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	_ = b.Close() // idempotent
	b2 := openTest(t, dir, nil)
	recs := replayAll(t, b2, AuctionLog("r", "l"))
	if len(recs) != 1 || recs[0].Seq != ack.Seq {
		t.Fatalf("after restart %+v", recs)
	}
	if _, err := b2.Append(context.Background(), AuctionLog("r", "l"), nil, AppendOptions{ExpectLast: Expect(ack.Seq)}); err != nil {
		t.Fatalf("expectation after restart: %v", err)
	}
}

func TestPublishSubscribe(t *testing.T) {
	b := openTest(t, t.TempDir(), nil)
	got := make(chan Msg, 10)
	sub, err := b.Subscribe("room.1", "*", func(m Msg) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	other, _ := b.Subscribe("room.2", "chat", func(m Msg) { t.Errorf("room.2 got %+v", m) })
	defer other.Stop()
	for _, topic := range []string{"chat", "auction"} {
		if err := b.Publish("room.1", topic, []byte(topic)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"chat", "auction"} {
		select {
		case m := <-got:
			if m.Topic != want || string(m.Data) != want || m.Room != "room.1" || m.Node != b.Node() || m.Node == "" {
				t.Fatalf("got %+v, want topic %s", m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no message within 10s")
		}
	}
	sub.Stop()
	_ = b.Publish("room.1", "chat", []byte("late"))
	if err := b.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		t.Fatalf("delivery after Stop: %+v", m)
	default:
	}
	if err := b.Publish("room.1", "*", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("publish to a wildcard: %v", err)
	}
}

func TestAppendRefusesNonLogs(t *testing.T) { both(t, testAppendRefusesNonLogs) }

func testAppendRefusesNonLogs(t *testing.T, b Bus) {
	for _, l := range []Log{AuctionLogs("r"), "glint.other.x", "x"} {
		if _, err := b.Append(context.Background(), l, nil, AppendOptions{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("append to %q: %v", l, err)
		}
	}
}

func TestClosedBus(t *testing.T) {
	b := openTest(t, t.TempDir(), nil)
	_ = b.Close()
	if _, err := b.Subscribe("r", "t", func(Msg) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("subscribe after close: %v", err)
	}
	if err := b.Publish("r", "t", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}
