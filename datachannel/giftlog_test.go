package datachannel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/roomname"
)

// TestGiftsPages reads a room's gift log in pages, as a backend reconciling does.
func TestGiftsPages(t *testing.T) {
	b := bus.NewMemory()
	h := newTestHub(t, hubOpts{bus: b})
	alice := join(t, h, claims("alice", true, false))
	var seqs []uint64
	for i := 0; i < 3; i++ {
		id := fmt.Sprint("g", i)
		alice.send(TypeGiftSend, id, giftSend{Key: id, Gift: "rose", Amount: int64(100 + i), Currency: "EUR"})
		seqs = append(seqs, uint64(num(alice.wantAck(id)["logSeq"])))
		// Another room's gift and an auction record share the stream, not the log.
		_, _ = b.Append(context.Background(), bus.GiftLog("other"), []byte(`{"key":"x","from":"bob","amount":1,"currency":"EUR"}`), bus.AppendOptions{})
	}
	ctx := context.Background()
	page, more, err := h.Gifts(ctx, room1, 0, 2)
	if err != nil || !more || len(page) != 2 || page[0].Seq != seqs[0] || page[1].Gift.Key != "g1" || page[1].Gift.From != "alice" {
		t.Fatalf("first page %+v more=%v err=%v", page, more, err)
	}
	page, more, err = h.Gifts(ctx, room1, page[1].Seq, 2)
	if err != nil || more || len(page) != 1 || page[0].Seq != seqs[2] || page[0].Gift.Amount != 102 {
		t.Fatalf("second page %+v more=%v err=%v", page, more, err)
	}
	if page, more, err = h.Gifts(ctx, room1, seqs[2], 2); err != nil || more || len(page) != 0 {
		t.Fatalf("past the end %+v more=%v err=%v", page, more, err)
	}
	if page, _, err = h.Gifts(ctx, room1, math.MaxUint64, 2); err != nil || len(page) != 0 {
		t.Fatalf("after the largest sequence: %+v %v", page, err)
	}
	if page, _, err = h.Gifts(ctx, "never-opened", 0, 10); err != nil || len(page) != 0 {
		t.Fatalf("a room without gifts: %+v %v", page, err)
	}
	if _, _, err := h.Gifts(ctx, "bad/room", 0, 10); !errors.Is(err, roomname.ErrInvalid) {
		t.Fatalf("bad room: %v", err)
	}
	for _, limit := range []int{0, -1, MaxGiftPage + 1} {
		if _, _, err := h.Gifts(ctx, room1, 0, limit); !errors.Is(err, ErrBadPage) {
			t.Fatalf("limit %d: %v", limit, err)
		}
	}
}
