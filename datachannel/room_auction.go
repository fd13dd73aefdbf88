package datachannel

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/auction"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/usertext"
)

// lotEntry is a lot and where its log on the bus ends.
type lotEntry struct {
	lot     *auction.Lot
	last    uint64   // bus sequence of the lot's last record
	seqs    []uint64 // bus sequence of each accepted bid, by index
	retryAt time.Time
	follow  follow    // when the log is read again for other nodes' changes (lotfollow.go)
	beatAt  time.Time // when its state is repeated on the bus next (lotfollow.go)
}

// maxAttempts bounds the optimistic-concurrency loop of one append.
const maxAttempts = 5

// bidAccepted announces an accepted bid to the room.
type bidAccepted struct {
	LotID        string `json:"lotId"`
	BidID        string `json:"bidId"`
	Bidder       string `json:"bidder"`
	Amount       int64  `json:"amount"`
	BidMediaTime int64  `json:"bidMediaTime,omitempty"` // what the bidder was watching
	EndsAt       int64  `json:"endsAt"`
	Extended     bool   `json:"extended"`
	Seq          uint64 `json:"logSeq"`
}

func (r *room) onAuction(c *Conn, env *Envelope) error {
	now := r.hub.now()
	switch env.Type {
	case TypeAuctionOpen:
		var p auctionOpen
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		return r.openLot(c, env, p, now)
	case TypeAuctionBid:
		var p auctionBid
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		return r.bid(c, env, p, now)
	}
	var p lotRef
	if err := DecodePayload(env, &p); err != nil {
		return err
	}
	e, ok := r.lots[p.LotID]
	if !ok {
		return fmt.Errorf("%w: lot %q", ErrNotFound, p.LotID)
	}
	if err := r.closeLot(e, now); err != nil {
		return err
	}
	c.ack(env, nil)
	return nil
}

func (r *room) openLot(c *Conn, env *Envelope, p auctionOpen, now time.Time) error {
	// Ids are checked here, on new input only: a lot already in the log still replays.
	if err := usertext.CheckID(p.LotID); err != nil {
		return fmt.Errorf("lotId: %w", err)
	}
	if _, ok := r.lots[p.LotID]; ok {
		return fmt.Errorf("%w: lot %q exists", ErrRejected, p.LotID)
	}
	lot, err := auction.Open(auction.Spec{LotID: p.LotID, Title: p.Title, StartPrice: p.StartPrice,
		Increment: p.Increment, Reserve: p.Reserve, EndsAt: now.Add(ms(p.DurationMs)),
		SnipeWindow: ms(p.SnipeWindowMs), SnipeExtend: ms(p.SnipeExtendMs), Seller: c.identity}, now)
	if err != nil {
		return err
	}
	ack, err := r.appendLot(p.LotID, 0, auction.OpenRecord(lot.Spec()))
	if errors.Is(err, bus.ErrConflict) || (err == nil && ack.Duplicate) {
		return r.openedBefore(c, env, p.LotID, ack)
	}
	if err != nil {
		return err
	}
	r.lots[p.LotID] = &lotEntry{lot: lot, last: ack.Seq}
	r.broadcastLot(lot)
	c.ack(env, map[string]any{"lotId": p.LotID, "logSeq": ack.Seq})
	return nil
}

// openedBefore answers an open of a lot that is in the log already: another node opened
// a lot of that id first (a conflict), or the bus recognised the open's id (duplicate):
// a retry whose first answer was lost, or a lot this room could not read at its start.
// The lot is what the log says, loaded so that bids here see it, never the new request's
// spec (its end would be later than every other node's). The seller's retry is
// acknowledged as the first open would have been; anything else is told it exists.
func (r *room) openedBefore(c *Conn, env *Envelope, lotID string, ack bus.Ack) error {
	if err := r.loadLot(lotID); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	e := r.lots[lotID]
	if e == nil {
		return fmt.Errorf("%w: lot %q exists and its log does not replay", ErrRejected, lotID)
	}
	r.broadcastLot(e.lot)
	if ack.Duplicate && e.lot.Spec().Seller == c.identity {
		c.ack(env, map[string]any{"lotId": lotID, "logSeq": ack.Seq}) // the open's, as the bus recognised it
		return nil
	}
	return fmt.Errorf("%w: lot %q exists", ErrRejected, lotID)
}

func ms(v int64) time.Duration { return time.Duration(v) * time.Millisecond }

// bid makes an accepted bid durable, then applies and announces it. The sender's ack
// goes out only after the bus has stored the bid.
func (r *room) bid(c *Conn, env *Envelope, p auctionBid, now time.Time) error {
	e, ok := r.lots[p.LotID]
	if !ok {
		return fmt.Errorf("%w: lot %q", ErrNotFound, p.LotID)
	}
	if err := usertext.CheckID(p.BidID); err != nil {
		return fmt.Errorf("bidId: %w", err)
	}
	b := auction.Bid{ID: p.BidID, Bidder: c.identity, Amount: p.Amount, MediaTime: env.MediaTime}
	o, err := r.placeBid(e, now, b)
	if err != nil {
		return err
	}
	seq := e.seqs[o.Index]
	if !o.Duplicate {
		r.announceBid(e.lot, o.Bid, o.Outbid, o.EndsAt, o.Extended, seq)
	}
	c.ack(env, map[string]any{"lotId": p.LotID, "bidId": o.Bid.ID, "amount": o.Bid.Amount,
		"logSeq": seq, "duplicate": o.Duplicate, "endsAt": o.EndsAt.UnixMilli()})
	return nil
}

// announceBid tells the room about an accepted bid (placed here or learned from the
// log), and the outbid bidder that they were.
func (r *room) announceBid(lot *auction.Lot, b auction.Bid, outbid *auction.Bid, endsAt time.Time, extended bool, seq uint64) {
	lotID := lot.Spec().LotID
	r.broadcast(TypeAuctionAccepted, b.Bidder, bidAccepted{LotID: lotID, BidID: b.ID, Bidder: b.Bidder,
		Amount: b.Amount, BidMediaTime: b.MediaTime, EndsAt: endsAt.UnixMilli(), Extended: extended, Seq: seq},
		classStream, "")
	r.broadcastLot(lot)
	if outbid != nil && outbid.Bidder != b.Bidder {
		r.sendTo(outbid.Bidder, TypeAuctionOutbid, map[string]any{"lotId": lotID, "bidId": outbid.ID,
			"amount": outbid.Amount, "highAmount": b.Amount, "minNext": lot.MinNext()})
	}
}

// placeBid is the optimistic-concurrency loop: check the bid against the lot, append it
// expecting the lot's last sequence, and on a conflict catch up with what another writer
// appended and check again.
func (r *room) placeBid(e *lotEntry, now time.Time, b auction.Bid) (auction.Outcome, error) {
	id := msgID("bid", r.name, b.Bidder, e.lot.Spec().LotID, b.ID)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		o, err := e.lot.Check(now, b)
		if err != nil || o.Duplicate {
			return o, err
		}
		data, _ := json.Marshal(auction.BidRecord(o.Bid))
		ack, err := r.append(bus.AuctionLog(r.name, e.lot.Spec().LotID), data, bus.AppendOptions{ExpectLast: bus.Expect(e.last), MsgID: id})
		switch {
		case errors.Is(err, bus.ErrConflict) || (err == nil && ack.Duplicate):
			// Someone appended first, or this very bid was stored by an attempt whose
			// answer was lost: either way the log knows more than we do.
			if err := r.catchUp(e); err != nil {
				return auction.Outcome{}, err
			}
			continue
		case err != nil:
			return auction.Outcome{}, err
		}
		o, err = e.lot.Bid(now, b)
		if err != nil { // cannot happen: Check said yes and nothing ran in between
			r.log.Error("a checked bid was refused", zap.Error(err))
			return auction.Outcome{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		e.last = ack.Seq
		e.seqs = append(e.seqs, ack.Seq)
		return o, nil
	}
	return auction.Outcome{}, fmt.Errorf("%w: too much contention on the lot; retry", ErrUnavailable)
}

// closeLot makes the close durable, then applies and announces it.
func (r *room) closeLot(e *lotEntry, at time.Time) error {
	lotID := e.lot.Spec().LotID
	for attempt := 0; attempt < maxAttempts; attempt++ {
		if _, closed := e.lot.Closed(); closed {
			return auction.ErrClosed
		}
		data, _ := json.Marshal(auction.CloseRecord(at))
		ack, err := r.append(bus.AuctionLog(r.name, lotID), data, bus.AppendOptions{ExpectLast: bus.Expect(e.last),
			MsgID: msgID("close", r.name, lotID)})
		switch {
		case errors.Is(err, bus.ErrConflict) || (err == nil && ack.Duplicate):
			if err := r.catchUp(e); err != nil {
				return err
			}
			if _, closed := e.lot.Closed(); closed {
				return nil // closed by another writer; catchUp announced it
			}
			continue
		case err != nil:
			return err
		}
		res, _ := e.lot.Close(at)
		e.last = ack.Seq
		r.announceClose(e.lot, res)
		return nil
	}
	return fmt.Errorf("%w: too much contention on the lot; retry", ErrUnavailable)
}

func (r *room) announceClose(lot *auction.Lot, res auction.Result) {
	p := map[string]any{"lotId": res.LotID, "sold": res.Winner != nil, "reserveMet": res.ReserveMet,
		"bids": res.Bids, "closedAt": res.ClosedAt.UnixMilli()}
	if res.Winner != nil {
		p["winner"], p["amount"], p["bidId"], p["bidMediaTime"] = res.Winner.Bidder, res.Winner.Amount, res.Winner.ID, res.Winner.MediaTime
	}
	r.broadcast(TypeAuctionClosed, "", p, classStream, "")
	r.broadcastLot(lot)
}

// closeDueLots closes lots whose end has passed, at their end time, so a close decided
// late (a busy room, a restart) is recorded at the moment the rules say.
func (r *room) closeDueLots(now time.Time) {
	for _, e := range r.lots {
		if !e.lot.Due(now) || now.Before(e.retryAt) {
			continue
		}
		if err := r.closeLot(e, e.lot.EndsAt()); err != nil && !errors.Is(err, auction.ErrClosed) {
			r.log.Warn("closing a lot", zap.String("lot", e.lot.Spec().LotID), zap.Error(err))
			if e.retryAt.IsZero() {
				// First failure: tell the room the lot is closing, so no one (nor a
				// resync from the kept snapshot) goes on seeing it open.
				r.broadcastLot(e.lot)
			}
			e.retryAt = now.Add(time.Second)
		}
	}
}

// lotState is the auction.state payload: the lot's snapshot and the bus sequence of its
// last record, by which other nodes tell whether they are behind.
type lotState struct {
	auction.Snapshot
	LogSeq uint64 `json:"logSeq"`
	// Closing: the lot is past its end but its close is not durable yet (the bus
	// refused it; it is retried). Sent with open false: bids are already refused.
	Closing bool `json:"closing,omitempty"`
}

// stateOf is lot's auction.state payload at now. A lot past its end is never sent as
// open, whether or not its close has reached the log.
func (r *room) stateOf(lot *auction.Lot, now time.Time) lotState {
	st := lotState{Snapshot: lot.Snapshot()}
	if e := r.lots[st.LotID]; e != nil {
		st.LogSeq = e.last
	}
	if lot.Due(now) {
		st.Open, st.Closing = false, true
	}
	return st
}

func (r *room) broadcastLot(lot *auction.Lot) {
	r.broadcast(TypeAuctionState, "", r.stateOf(lot, r.hub.now()), classState, "lot:"+lot.Spec().LotID)
}
