package datachannel

import (
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/signaling/auth"
)

// FuzzReceive feeds arbitrary messages through the whole path (decoder, permission and
// rate checks, payload decoding, the room's state machines) from an admin, so every
// command type is reachable. Every message with an id must get exactly one answer, an ack
// or an error, and the server must only ever send valid envelopes.
func FuzzReceive(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"chat.send","id":"1","payload":{"text":"hi"}}`,
		`{"v":1,"type":"poll.open","id":"2","payload":{"pollId":"p","question":"q","options":["a","b"],"durationMs":1000}}`,
		`{"v":1,"type":"poll.vote","id":"3","payload":{"pollId":"p","option":1}}`,
		`{"v":1,"type":"auction.open","id":"4","payload":{"lotId":"l","startPrice":1,"increment":1,"durationMs":60000}}`,
		`{"v":1,"type":"auction.bid","id":"5","mediaTime":7,"payload":{"lotId":"l","bidId":"b","amount":5}}`,
		`{"v":1,"type":"gift.send","id":"6","payload":{"key":"k","amount":5,"currency":"EUR"}}`,
		`{"v":1,"type":"qna.ask","id":"7","payload":{"text":"?"}}`,
		`{"v":1,"type":"chat.mute","id":"8","payload":{"identity":"x","seconds":5}}`,
		`{"v":1,"type":"alert.show","id":"9","payload":{"kind":"k","text":"t"}}`,
		`{"v":1,"type":"sync","id":"10"}`,
		`{"v":1,"type":"ping","id":"11","admin":true}`,
		`{"v":1,"type":"chat.send","id":"12","payload":{"text":"` + strings.Repeat("x", 5000) + `"}}`,
	} {
		f.Add([]byte(s))
	}
	cfg := DefaultConfig()
	cfg.RatePerSecond, cfg.RateBurst = 1e9, 1<<30
	cfg.Chat.Rate, cfg.Chat.Burst = 1e9, 1<<30
	h, err := NewHub(cfg, bus.NewMemory(), Options{}, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(h.Close)
	tr := newFake(false)
	conn, err := h.Join(room1, &auth.Claims{Identity: "admin", Room: room1, RoomJoin: true, CanPublishData: true, RoomAdmin: true}, tr)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(conn.Close)
	c := &client{t: nil, conn: conn, tr: tr}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c.t = t
		const probe = "fuzz-probe"
		if err := conn.Receive(msg); err != nil {
			t.Fatal(err)
		}
		// A ping is answered directly; a sync goes through the room after msg, so once
		// its ack arrives, everything msg caused has been queued before it.
		c.send(TypeSync, probe, nil)
		answers := 0
		for {
			e := c.take("probe", func(*Envelope) bool { return true })
			if e.V != Version || e.Type == "" || e.Room != room1 {
				t.Fatalf("invalid envelope from the server: %+v", e)
			}
			if e.Type == TypeAck && e.ID == probe {
				break
			}
			if (e.Type == TypeAck || e.Type == TypeError || e.Type == TypePong) && e.ID != "" {
				answers++
			}
		}
		// A message whose id the decoder could read gets exactly one answer (the room
		// acks even commands it refuses with an error, never both).
		if d, _ := Decode(msg, cfg.MaxMessageBytes, room1, "admin"); d.ID != "" && d.ID != probe && answers != 1 {
			t.Fatalf("%d answers to %q", answers, msg)
		}
	})
}

// FuzzNodeReports: whatever another node's poll or Q&A report holds, decoding and applying
// it neither panics nor leaves a poll or question that breaks the room's invariants (a
// tally with one count per option; a listed question with a known status).
func FuzzNodeReports(f *testing.F) {
	for _, s := range []string{
		`{"spec":{"pollId":"p","question":"q","options":["a","b"],"deadline":"2030-01-01T00:00:00Z"},"opened":1893455000000,"openedBy":"n","tally":{"counts":[1,2],"voters":3}}`,
		`{"spec":{"pollId":"p","question":"q","options":["a","b"],"deadline":"2020-01-01T00:00:00Z"},"opened":1577836000000,"openedBy":"n","tally":{"counts":[0,0],"voters":0},"closed":1577836800000}`,
		`{"questions":[{"questionId":"n.q1","asker":"a","text":"why?","votes":2,"status":"open","askedAt":1}]}`,
		`{"questions":[{"questionId":"n.q1","asker":"a","text":"why?","votes":0,"status":"answered","answer":"yes","askedAt":1}]}`,
	} {
		f.Add([]byte(s))
	}
	h, err := NewHub(DefaultConfig(), bus.NewMemory(), Options{}, zap.NewNop())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(h.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newRoom(h, "fuzz") // its goroutine is not started: this one owns it
		defer r.wakes.stop()
		if p, ok := decodePoll("other", data); ok {
			r.handle(command{poll: p})
		}
		if q, ok := decodeQna("other", data); ok {
			r.handle(command{qna: q})
		}
		for _, id := range r.pollOrder {
			if s := r.polls[id].snapshot(); len(s.Counts) != len(s.Options) {
				t.Fatalf("poll %q: %d counts for %d options", id, len(s.Counts), len(s.Options))
			}
		}
		for _, q := range r.board.List() {
			if q.Status != "open" && q.Status != "answered" {
				t.Fatalf("listed question with status %q", q.Status)
			}
		}
	})
}
