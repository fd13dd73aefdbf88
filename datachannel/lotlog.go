package datachannel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/auction"
	"github.com/glintlive/glint/datachannel/bus"
)

// The durable side of auctions: every change to a lot is a record in the lot's log on
// the bus, written with the expected last sequence so there is one order across writers,
// and read back to catch up, to follow other nodes and to restore after a restart.

// append writes to the bus within the hub's timeout. Any failure but a conflict is
// ErrUnavailable to the client: nothing was acknowledged, and a retry with the same id
// is safe.
func (r *room) append(l bus.Log, data []byte, o bus.AppendOptions) (bus.Ack, error) {
	ctx, cancel := context.WithTimeout(r.hub.ctx, r.hub.cfg.BusTimeout)
	defer cancel()
	start := time.Now()
	ack, err := r.hub.bus.Append(ctx, l, data, o)
	result := "ok"
	switch {
	case errors.Is(err, bus.ErrConflict):
		result = "conflict"
	case err != nil:
		result = "error"
	}
	appendSeconds.WithLabelValues(result).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, bus.ErrConflict) {
		r.log.Warn("bus append failed", zap.String("log", string(l)), zap.Error(err))
		return ack, fmt.Errorf("%w: the bus did not store it; retry with the same id", ErrUnavailable)
	}
	return ack, err
}

func (r *room) appendLot(lotID string, expect uint64, rec auction.Record) (bus.Ack, error) {
	data, _ := json.Marshal(rec)
	return r.append(bus.AuctionLog(r.name, lotID), data, bus.AppendOptions{ExpectLast: bus.Expect(expect),
		MsgID: msgID("open", r.name, lotID)})
}

// catchUp applies, and announces to the room, the records appended to a lot's log that
// this room has not seen: another node's bids and close, or a write of ours whose answer
// was lost.
func (r *room) catchUp(e *lotEntry) error {
	ctx, cancel := context.WithTimeout(r.hub.ctx, r.hub.cfg.BusTimeout)
	defer cancel()
	err := r.hub.bus.Replay(ctx, bus.AuctionLog(r.name, e.lot.Spec().LotID), e.last+1, func(rec bus.Record) error {
		return r.applyRecord(e, rec)
	})
	if err != nil {
		r.log.Error("catching up with a lot's log", zap.String("lot", e.lot.Spec().LotID), zap.Error(err))
		e.follow.heard(e.last + 1) // the follower reads it again (lotfollow.go)
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// applyRecord applies one record of a lot's log and announces what it changed.
func (r *room) applyRecord(e *lotEntry, rec bus.Record) error {
	var ar auction.Record
	if err := json.Unmarshal(rec.Data, &ar); err != nil {
		return fmt.Errorf("%w: %w", auction.ErrBadRecord, err)
	}
	n := len(e.lot.Bids())
	prev, hadPrev := e.lot.High()
	endBefore := e.lot.EndsAt()
	_, wasClosed := e.lot.Closed()
	if err := e.lot.Apply(ar); err != nil {
		return err
	}
	e.last = rec.Seq
	if len(e.lot.Bids()) > n {
		e.seqs = append(e.seqs, rec.Seq)
		b, _ := e.lot.High()
		var outbid *auction.Bid
		if hadPrev {
			outbid = &prev
		}
		r.announceBid(e.lot, b, outbid, e.lot.EndsAt(), !e.lot.EndsAt().Equal(endBefore), rec.Seq)
	}
	if res, closed := e.lot.Closed(); closed && !wasClosed {
		r.announceClose(e.lot, res)
	}
	return nil
}

// loadLot reads one lot from the bus into the room, on the room's goroutine.
func (r *room) loadLot(lotID string) error {
	found := map[string]*lotRecords{}
	if err := r.replayLots(bus.AuctionLog(r.name, lotID), found); err != nil {
		return err
	}
	r.buildLots(found)
	return nil
}

type lotRecords struct {
	recs []auction.Record
	seqs []uint64
}

func (r *room) replayLots(l bus.Log, into map[string]*lotRecords) error {
	ctx, cancel := context.WithTimeout(r.hub.ctx, 6*r.hub.cfg.BusTimeout)
	defer cancel()
	return r.hub.bus.Replay(ctx, l, 0, func(rec bus.Record) error {
		lot := rec.Log.Lot()
		if into[lot] == nil {
			into[lot] = &lotRecords{}
		}
		into[lot].add(r.log, rec)
		return nil
	})
}

// add keeps one record; an unreadable one is logged and left out.
func (lr *lotRecords) add(log *zap.Logger, rec bus.Record) {
	var ar auction.Record
	if err := json.Unmarshal(rec.Data, &ar); err != nil {
		log.Error("unreadable auction record", zap.Uint64("seq", rec.Seq), zap.Error(err))
		return
	}
	lr.recs = append(lr.recs, ar)
	lr.seqs = append(lr.seqs, rec.Seq)
}

// buildLots rebuilds lots from their records; a lot whose log does not replay is left
// out and logged, never half-built.
func (r *room) buildLots(found map[string]*lotRecords) {
	for id, lr := range found {
		e, err := replayLot(lr)
		if err != nil {
			r.log.Error("a lot's log does not replay", zap.String("lot", id), zap.Error(err))
			continue
		}
		r.lots[id] = e
		r.snaps.Store("lot:"+id, r.encodeFor(TypeAuctionState, "", r.stateOf(e.lot, r.hub.now())))
	}
}

func replayLot(lr *lotRecords) (*lotEntry, error) {
	if len(lr.recs) == 0 {
		return nil, fmt.Errorf("%w: no readable record", auction.ErrBadRecord)
	}
	lot, err := auction.FromRecords(lr.recs[:1])
	if err != nil {
		return nil, err
	}
	e := &lotEntry{lot: lot, last: lr.seqs[0]}
	for i, rec := range lr.recs[1:] {
		n := len(lot.Bids())
		if err := lot.Apply(rec); err != nil {
			return nil, err
		}
		if len(lot.Bids()) > n {
			e.seqs = append(e.seqs, lr.seqs[i+1])
		}
		e.last = lr.seqs[i+1]
	}
	return e, nil
}

// msgID is a bus deduplication id for the parts: a hash, so client-chosen ids cannot
// inject anything into a NATS header.
func msgID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
