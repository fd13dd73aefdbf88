package datachannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/gift"
	"github.com/glintlive/glint/roomname"
)

// MaxGiftPage is the most gifts one Hub.Gifts call returns.
const MaxGiftPage = 1000

// LoggedGift is one gift of a room's gift log with its sequence on the bus, which orders
// it among the room's gifts and pages through them.
type LoggedGift struct {
	Seq  uint64
	Gift gift.Gift
}

// errPageFull ends a replay once a page (and one more, to tell whether more follow) is in.
var errPageFull = errors.New("page full")

// UndeliveredGift is a gift a webhook gave up on: the record of the room's undelivered
// gift log (bus.UndeliveredGiftLog), written by the webhook (signaling.GiftWebhook).
type UndeliveredGift struct {
	Seq      uint64    `json:"seq"`      // the gift's place in the room's gift log
	Webhook  string    `json:"webhook"`  // the webhook's name (a hash of its URL)
	Attempts int       `json:"attempts"` // POSTs made
	Status   int       `json:"status"`   // the last answer's HTTP status, 0 for none
	Error    string    `json:"error"`    // why the last attempt failed
	At       time.Time `json:"at"`       // when the webhook gave up
	Gift     gift.Gift `json:"gift"`
}

// LoggedUndelivered is an undelivered gift with its sequence in the undelivered log.
type LoggedUndelivered struct {
	Seq uint64
	UndeliveredGift
}

// UndeliveredGifts reads a room's undelivered gift log as Gifts reads its gift log.
func (h *Hub) UndeliveredGifts(ctx context.Context, room string, after uint64, limit int) ([]LoggedUndelivered, bool, error) {
	return readPage(ctx, h, bus.UndeliveredGiftLog(room), room, after, limit, func(seq uint64, u UndeliveredGift) LoggedUndelivered {
		return LoggedUndelivered{Seq: seq, UndeliveredGift: u}
	})
}

// Gifts reads a room's gift log, whether or not the room is open on this node, so a
// backend can reconcile with what the webhook sent: up to limit gifts with a sequence
// above after, in order, and whether more follow.
func (h *Hub) Gifts(ctx context.Context, room string, after uint64, limit int) ([]LoggedGift, bool, error) {
	return readPage(ctx, h, bus.GiftLog(room), room, after, limit, func(seq uint64, g gift.Gift) LoggedGift {
		return LoggedGift{Seq: seq, Gift: g}
	})
}

// readPage reads up to limit records of room's log with a sequence above after, each
// decoded as a V and made a T, in order, and whether more follow. A record that does not
// decode is logged and skipped.
func readPage[V, T any](ctx context.Context, h *Hub, log bus.Log, room string, after uint64, limit int, make func(uint64, V) T) ([]T, bool, error) {
	if !roomname.Valid(room) {
		return nil, false, fmt.Errorf("%w: %q", roomname.ErrInvalid, truncate(room, 80))
	}
	if limit < 1 || limit > MaxGiftPage {
		return nil, false, ErrBadPage
	}
	if after == math.MaxUint64 {
		return nil, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 6*h.cfg.BusTimeout)
	defer cancel()
	var out []T
	err := h.bus.Replay(ctx, log, after+1, func(rec bus.Record) error {
		var v V
		if err := json.Unmarshal(rec.Data, &v); err != nil {
			h.log.Error("a log record that does not decode", zap.String("log", string(log)), zap.Uint64("seq", rec.Seq), zap.Error(err))
			return nil
		}
		out = append(out, make(rec.Seq, v))
		if len(out) > limit {
			return errPageFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, false, fmt.Errorf("datachannel: reading %s of %s: %w", log, room, err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}
