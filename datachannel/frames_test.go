package datachannel

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel/chat"
)

// batchedFake is a fake transport whose client asked for batched frames.
type batchedFake struct{ *fakeTransport }

func (batchedFake) Batched() bool { return true }

// frameEnvelopes splits one frame into its envelopes, failing on anything that is not
// one envelope or an array of two or more.
func frameEnvelopes(t *testing.T, frame []byte) []Envelope {
	t.Helper()
	if len(frame) > 0 && frame[0] == '[' {
		var envs []Envelope
		if err := json.Unmarshal(frame, &envs); err != nil {
			t.Fatalf("bad batched frame %q: %v", frame, err)
		}
		if len(envs) < 2 {
			t.Fatalf("an array frame of %d envelopes: a lone envelope goes bare", len(envs))
		}
		return envs
	}
	var env Envelope
	if err := json.Unmarshal(frame, &env); err != nil {
		t.Fatalf("bad frame %q: %v", frame, err)
	}
	return []Envelope{env}
}

// chatTexts reads frames from tr until it has n chat messages, and returns their texts
// in order with the number of frames they took. Room sequence numbers must increase.
func chatTexts(t *testing.T, tr *fakeTransport, n int) (texts []string, frames int) {
	t.Helper()
	var lastSeq uint64
	deadline := time.After(10 * time.Second) // keeps a broken test from hanging; measures nothing
	for len(texts) < n {
		select {
		case b := <-tr.msgs:
			frames++
			if len(b) > maxFrameBytes && b[0] == '[' {
				t.Fatalf("a batched frame of %d bytes, over %d", len(b), maxFrameBytes)
			}
			for _, env := range frameEnvelopes(t, b) {
				if env.Seq != 0 {
					if env.Seq <= lastSeq {
						t.Fatalf("seq %d after %d: out of order", env.Seq, lastSeq)
					}
					lastSeq = env.Seq
				}
				if env.Type == TypeChatMessage {
					var p struct{ Text string }
					_ = json.Unmarshal(env.Payload, &p)
					texts = append(texts, p.Text)
				}
			}
		case <-deadline:
			t.Fatalf("%d of %d chat messages within 10s", len(texts), n)
		}
	}
	return texts, frames
}

// batchedRoom is a hub coalescing over coalesce, with chat limits out of the way, and a
// viewer in room1 that takes batched frames.
func batchedRoom(t *testing.T, coalesce time.Duration) (*Hub, *fakeTransport) {
	t.Helper()
	h := newTestHub(t, hubOpts{cfg: func(c *Config) {
		c.Coalesce = coalesce
		c.RatePerSecond, c.RateBurst = 1000, 1000
		c.Chat = chat.Config{MaxLen: 500, History: 50, Rate: 1000, Burst: 1000}
	}})
	batched := newFake(false)
	conn, err := h.Join(room1, claims("b", false, false), batchedFake{batched})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return h, batched
}

func TestBatchedFramesKeepOrderAndEnvelope(t *testing.T) {
	h, batched := batchedRoom(t, 20*time.Millisecond)
	single := join(t, h, claims("s", false, false))
	sender := join(t, h, claims("alice", true, false))

	const n = 200
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("message %03d", i)
		sender.send(TypeChatSend, "", map[string]string{"text": want[i]})
	}
	got, frames := chatTexts(t, batched, n)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("batched viewer got %v", got)
	}
	// 200 messages sent at once reach the viewer in a handful of coalesced frames (the
	// join state comes in frames of its own); one per message would mean no batching.
	if frames > n/2 {
		t.Errorf("%d messages took %d frames: not batched", n, frames)
	}
	got, frames = chatTexts(t, single.tr, n)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("unbatched viewer got %v", got)
	}
	if frames < n {
		t.Errorf("unbatched viewer got %d messages in %d frames", n, frames)
	}
}

// TestCoalescingGathersTricklingEvents sends a message every millisecond: a writer that
// woke for each would keep up and write one frame per message; coalesced over 20 ms they
// go out a few at a time.
func TestCoalescingGathersTricklingEvents(t *testing.T) {
	for _, coalesce := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run(coalesce.String(), func(t *testing.T) {
			h, batched := batchedRoom(t, coalesce)
			sender := join(t, h, claims("alice", true, false))
			sender.next(TypeChatHistory) // the sender's join state is in; so is the viewer's
			const n = 100
			for i := range n {
				sender.send(TypeChatSend, "", map[string]string{"text": fmt.Sprint(i)})
				time.Sleep(time.Millisecond)
			}
			got, frames := chatTexts(t, batched, n)
			for i, text := range got {
				if text != fmt.Sprint(i) {
					t.Fatalf("message %d is %q", i, text)
				}
			}
			t.Logf("%d messages in %d frames", n, frames)
			if coalesce > 0 && frames > n/2 {
				t.Errorf("%d messages a millisecond apart took %d frames: not coalesced", n, frames)
			}
			if coalesce == 0 && frames <= n/4 { // about n; a loaded machine may merge a few
				t.Errorf("%d messages a millisecond apart took %d frames with coalescing off: held back", n, frames)
			}
		})
	}
}

func TestFramerSplitsAtMaxFrameBytes(t *testing.T) {
	var frames [][]byte
	f := framer{write: func(b []byte) bool { frames = append(frames, bytes.Clone(b)); return true }}
	msg := func(i, size int) []byte {
		b, _ := json.Marshal(Envelope{V: 1, Type: TypeChatMessage, Seq: uint64(i + 1), Payload: mustPayload(strings.Repeat("x", size))})
		return b
	}
	var sent int
	for i := range 100 {
		if !f.add(msg(i, 500)) {
			t.Fatal("add failed")
		}
		sent++
	}
	big := msg(100, 2*maxFrameBytes)
	if !f.add(big) || !f.add(msg(101, 10)) || !f.flush() {
		t.Fatal("add or flush failed")
	}
	sent += 2
	var seq uint64
	var envs int
	for _, b := range frames {
		for _, env := range frameEnvelopes(t, b) {
			if env.Seq != seq+1 {
				t.Fatalf("seq %d after %d", env.Seq, seq)
			}
			seq = env.Seq
			envs++
		}
		if b[0] == '[' && len(b) > maxFrameBytes {
			t.Errorf("frame of %d bytes", len(b))
		}
	}
	if envs != sent {
		t.Fatalf("%d envelopes out of %d", envs, sent)
	}
	if !bytes.Contains(bytes.Join(frames, nil), big) {
		t.Error("the oversized envelope is not sent whole")
	}
	if len(frames) < 5 { // 50 kB of envelopes, and the oversized one alone
		t.Errorf("%d frames for %d bytes", len(frames), sent*500)
	}
}

func TestFramerDoesNotAllocate(t *testing.T) {
	f := framer{write: func([]byte) bool { return true }}
	msg := []byte(`{"v":1,"type":"chat.message","room":"show","seq":1,"payload":{"text":"hello"}}`)
	allocs := testing.AllocsPerRun(1000, func() {
		for range 8 {
			f.add(msg)
		}
		f.flush()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batched frame", allocs)
	}
}

func TestCoalescerWakesAtOnceWhenQuietAndOncePerInterval(t *testing.T) {
	k := newCoalescer(20 * time.Millisecond)
	defer k.stop()
	t0 := time.Now()
	if !k.now(t0) {
		t.Fatal("the first event after a quiet spell waits")
	}
	if k.now(t0.Add(5*time.Millisecond)) || k.now(t0.Add(8*time.Millisecond)) {
		t.Fatal("events within the interval wake at once")
	}
	if !k.armed {
		t.Fatal("no wake armed for the waiting events")
	}
	// Past the interval but with a wake armed: still wait for it, or the armed wake
	// would come right after this one.
	if k.now(t0.Add(25 * time.Millisecond)) {
		t.Fatal("woke at once while a wake is armed")
	}
	k.fired(t0.Add(20 * time.Millisecond))
	if k.now(t0.Add(30 * time.Millisecond)) {
		t.Fatal("woke at once 10ms after the last wake")
	}
	k.fired(t0.Add(40 * time.Millisecond))
	if !k.now(t0.Add(61 * time.Millisecond)) {
		t.Fatal("an event a full interval after the last wake waits")
	}
	if !newCoalescer(0).now(t0) {
		t.Fatal("coalesce 0 delays events")
	}
}
