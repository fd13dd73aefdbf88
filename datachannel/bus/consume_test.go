package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		failures int
		want     time.Duration
	}{
		{0, 0}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {6, 32 * time.Second},
		{7, time.Minute}, {8, time.Minute}, {1000, time.Minute},
	} {
		if got := Backoff(time.Second, time.Minute, c.failures); got != c.want {
			t.Errorf("Backoff(1s, 1m, %d) = %v, want %v", c.failures, got, c.want)
		}
	}
	if got := Backoff(3*time.Second, 2*time.Second, 1); got != 2*time.Second {
		t.Errorf("a min above max: %v, want the max", got)
	}
	opt := ConsumeOptions{}.withDefaults()
	if opt.RetryMin != DefaultRetryMin || opt.RetryMax != DefaultRetryMax {
		t.Errorf("defaults %+v", opt)
	}
}

// collector is a consumer's fn that records what it was given and fails while fail says so.
type collector struct {
	mu   sync.Mutex
	got  []Record
	at   []time.Time
	fail func(Record) bool
	more chan struct{}
}

func newCollector(fail func(Record) bool) *collector {
	return &collector{fail: fail, more: make(chan struct{}, 1000)}
}

func (c *collector) fn(r Record) error {
	c.mu.Lock()
	c.got = append(c.got, r)
	c.at = append(c.at, time.Now())
	fail := c.fail != nil && c.fail(r)
	c.mu.Unlock()
	c.more <- struct{}{}
	if fail {
		return errors.New("refused")
	}
	return nil
}

func (c *collector) records() []Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Record(nil), c.got...)
}

// waitFor waits up to 10s for n deliveries in all.
func (c *collector) waitFor(t *testing.T, n int) []Record {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(c.records()) < n {
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("%d deliveries within 10s, want %d: %+v", len(c.records()), n, c.records())
		}
	}
	return c.records()
}

func consume(t *testing.T, b Bus, durable string, opt ConsumeOptions, fn func(Record) error) Consumer {
	t.Helper()
	c, err := b.Consume(context.Background(), GiftLogs(), durable, opt, fn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

func appendGift(t *testing.T, b Bus, room, data string) uint64 {
	t.Helper()
	ack, err := b.Append(context.Background(), GiftLog(room), []byte(data), AppendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ack.Seq
}

func TestConsumeInOrder(t *testing.T) { both(t, testConsumeInOrder) }

func testConsumeInOrder(t *testing.T, b Bus) {
	before := appendGift(t, b, "old", "before the consumer")
	col := newCollector(nil)
	c := consume(t, b, "hook", ConsumeOptions{}, col.fn)
	var want []uint64
	for i, room := range []string{"show", "room.2", "show"} {
		want = append(want, appendGift(t, b, room, fmt.Sprint(i)))
		// Records of other logs in the stream are not the consumer's.
		_, _ = b.Append(context.Background(), AuctionLog(room, "lot"), []byte("bid"), AppendOptions{})
	}
	got := col.waitFor(t, 3)
	for i, r := range got {
		if r.Seq != want[i] || string(r.Data) != fmt.Sprint(i) || r.Delivery != 1 || r.Seq == before {
			t.Fatalf("delivery %d: %+v, want seq %d", i, r, want[i])
		}
	}
	if got[1].Log.Room() != "room.2" || got[0].Log != GiftLog("show") {
		t.Fatalf("logs %q %q", got[0].Log, got[1].Log)
	}
	waitPending(t, c, 0)
}

func waitPending(t *testing.T, c Consumer, want uint64) {
	t.Helper()
	var n uint64
	for i := 0; i < 100; i++ {
		var err error
		if n, err = c.Pending(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("pending %d, want %d", n, want)
}

// TestConsumeRetries: a record fn fails on is delivered again after a growing back-off,
// and the records behind it wait for it.
func TestConsumeRetries(t *testing.T) { both(t, testConsumeRetries) }

func testConsumeRetries(t *testing.T, b Bus) {
	col := newCollector(func(r Record) bool { return string(r.Data) == "first" && r.Delivery < 4 })
	opt := ConsumeOptions{RetryMin: 20 * time.Millisecond, RetryMax: 60 * time.Millisecond}
	c := consume(t, b, "hook", opt, col.fn)
	first := appendGift(t, b, "show", "first")
	second := appendGift(t, b, "show", "second")
	got := col.waitFor(t, 5)
	for i, r := range got[:4] {
		if r.Seq != first || r.Delivery != i+1 {
			t.Fatalf("delivery %d: %+v, want seq %d attempt %d", i, r, first, i+1)
		}
	}
	if got[4].Seq != second || got[4].Delivery != 1 {
		t.Fatalf("then %+v, want seq %d", got[4], second)
	}
	// Waits of 20, 40 and 60 (capped) ms between the four attempts.
	col.mu.Lock()
	at := col.at
	col.mu.Unlock()
	for i, min := range []time.Duration{20, 40, 60} {
		if d := at[i+1].Sub(at[i]); d < min*time.Millisecond*9/10 {
			t.Fatalf("attempt %d came %v after the one before, want at least %vms", i+2, d, min)
		}
	}
	waitPending(t, c, 0)
}

// TestConsumeResumes: a durable name resumes after its last acknowledged record; a new
// name starts at the end.
func TestConsumeResumes(t *testing.T) { both(t, testConsumeResumes) }

func testConsumeResumes(t *testing.T, b Bus) {
	col := newCollector(nil)
	c := consume(t, b, "hook", ConsumeOptions{}, col.fn)
	appendGift(t, b, "show", "1")
	col.waitFor(t, 1)
	c.Stop()
	c.Stop() // idempotent
	second := appendGift(t, b, "show", "2")
	col2 := newCollector(nil)
	c2 := consume(t, b, "hook", ConsumeOptions{}, col2.fn)
	if got := col2.waitFor(t, 1); got[0].Seq != second {
		t.Fatalf("resumed at %+v, want seq %d", got[0], second)
	}
	fresh := newCollector(nil)
	consume(t, b, "other", ConsumeOptions{}, fresh.fn)
	third := appendGift(t, b, "show", "3")
	if got := fresh.waitFor(t, 1); got[0].Seq != third {
		t.Fatalf("a new name got %+v first, want seq %d", got[0], third)
	}
	waitPending(t, c2, 0)
}

// TestConsumeShared: consumers with one name share the records: each is delivered once.
func TestConsumeShared(t *testing.T) { both(t, testConsumeShared) }

func testConsumeShared(t *testing.T, b Bus) {
	col := newCollector(nil)
	consume(t, b, "hook", ConsumeOptions{}, col.fn)
	consume(t, b, "hook", ConsumeOptions{}, col.fn)
	for i := 0; i < 20; i++ {
		appendGift(t, b, "show", fmt.Sprint(i))
	}
	got := col.waitFor(t, 20)
	time.Sleep(100 * time.Millisecond)
	if got = col.records(); len(got) != 20 {
		t.Fatalf("%d deliveries of 20 records", len(got))
	}
	for i, r := range got {
		if string(r.Data) != fmt.Sprint(i) {
			t.Fatalf("delivery %d is %q: out of order", i, r.Data)
		}
	}
}

func TestConsumeRefuses(t *testing.T) { both(t, testConsumeRefuses) }

func testConsumeRefuses(t *testing.T, b Bus) {
	ok := func(Record) error { return nil }
	for name, call := range map[string]func() error{
		"dotted name": func() error {
			_, err := b.Consume(context.Background(), GiftLogs(), "a.b", ConsumeOptions{}, ok)
			return err
		},
		"no name": func() error {
			_, err := b.Consume(context.Background(), GiftLogs(), "", ConsumeOptions{}, ok)
			return err
		},
		"not a log": func() error {
			_, err := b.Consume(context.Background(), "glint.room.x", "d", ConsumeOptions{}, ok)
			return err
		},
		"no fn": func() error {
			_, err := b.Consume(context.Background(), GiftLogs(), "d", ConsumeOptions{}, nil)
			return err
		},
	} {
		if err := call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	_ = b.Close()
	if _, err := b.Consume(context.Background(), GiftLogs(), "d", ConsumeOptions{}, ok); err == nil {
		t.Error("consumed from a closed bus")
	}
}

// TestConsumeSurvivesRestart: records fn failed on before the bus closed are delivered
// after it is opened again on the same directory; acknowledged ones are not.
func TestConsumeSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, nil)
	down := newCollector(func(r Record) bool { return string(r.Data) != "acked" })
	// The server remembers a record's delivery across the restart, not the back-off it
	// was told to wait: it hands the record out again AckWait after that delivery.
	opt := ConsumeOptions{RetryMin: 50 * time.Millisecond, AckWait: 2 * time.Second}
	consume(t, b, "hook", opt, down.fn)
	appendGift(t, b, "show", "acked")
	down.waitFor(t, 1)
	want := []uint64{appendGift(t, b, "show", "a"), appendGift(t, b, "other", "b")}
	down.waitFor(t, 3) // "a" failed, and failed again
	_ = b.Close()

	b2 := openTest(t, dir, nil)
	up := newCollector(nil)
	consume(t, b2, "hook", opt, up.fn)
	got := up.waitFor(t, 2)
	if got[0].Seq != want[0] || got[0].Delivery < 2 || got[1].Seq != want[1] {
		t.Fatalf("after restart %+v, want seqs %v", got, want)
	}
}
