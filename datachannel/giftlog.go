package datachannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/gift"
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

// Gifts reads a room's gift log, whether or not the room is open on this node, so a
// backend can reconcile with what the webhook sent: up to limit gifts with a sequence
// above after, in order, and whether more follow.
func (h *Hub) Gifts(ctx context.Context, room string, after uint64, limit int) ([]LoggedGift, bool, error) {
	if !roomNameRE.MatchString(room) {
		return nil, false, fmt.Errorf("%w: %q", ErrInvalidRoom, truncate(room, 80))
	}
	if limit < 1 || limit > MaxGiftPage {
		return nil, false, ErrBadPage
	}
	if after == math.MaxUint64 {
		return nil, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 6*h.cfg.BusTimeout)
	defer cancel()
	var out []LoggedGift
	err := h.bus.Replay(ctx, bus.GiftLog(room), after+1, func(rec bus.Record) error {
		var g gift.Gift
		if err := json.Unmarshal(rec.Data, &g); err != nil {
			h.log.Error("a gift record that does not decode", zap.String("room", room), zap.Uint64("seq", rec.Seq), zap.Error(err))
			return nil
		}
		out = append(out, LoggedGift{Seq: rec.Seq, Gift: g})
		if len(out) > limit {
			return errPageFull
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, false, fmt.Errorf("datachannel: reading the gift log of %s: %w", room, err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}
