package datachannel

import (
	"context"
	"encoding/json"
	"fmt"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/gift"
	"github.com/glintlive/glint/datachannel/usertext"
)

// giftAck is the ack of gift.send. LogSeq is the gift's record in the room's gift log, the
// first attempt's for a retry (as for a bid), so a client that lost the first ack still
// learns where its gift is. It is left out only for a retry of a gift this node heard of
// from an older node's gift.alert, which did not carry it.
type giftAck struct {
	Key       string `json:"key"`
	LogSeq    uint64 `json:"logSeq,omitempty"`
	Duplicate bool   `json:"duplicate"`
}

// onGift makes a gift durable, then records and announces it; the sender's ack goes out
// only after the bus stored it. The host's backend hears of it from the log (bus.Consume
// in the gift webhook), not from here, so a crash after the append loses nothing. A retry
// with the same key is acknowledged again, with duplicate set and the original logSeq,
// and announced once.
func (r *room) onGift(c *Conn, env *Envelope) error {
	var p giftSend
	if err := DecodePayload(env, &p); err != nil {
		return err
	}
	if err := usertext.CheckID(p.Key); err != nil { // new input only: logged gifts still replay
		return fmt.Errorf("key: %w", err)
	}
	now := r.hub.now()
	g := gift.Gift{Key: p.Key, From: c.identity, Name: p.Gift, Amount: p.Amount, Currency: p.Currency,
		Message: p.Message, MediaTime: env.MediaTime}
	if prev, dup, err := r.gifts.Check(g); err != nil || dup {
		if err != nil {
			return err
		}
		c.ack(env, giftAck{Key: prev.Key, LogSeq: prev.Seq, Duplicate: true})
		return nil
	}
	g.At = now
	data, _ := json.Marshal(g)
	ack, err := r.append(bus.GiftLog(r.name), data, bus.AppendOptions{MsgID: msgID("gift", r.name, g.From, g.Key)})
	if err != nil {
		return err
	}
	// With ack.Duplicate an earlier attempt stored it but was never acknowledged or
	// announced; both happen now.
	if _, _, err := r.gifts.Record(g, ack.Seq); err != nil {
		return err
	}
	// logSeq lets other nodes answer a retry sent to them with it (see onRemote).
	r.broadcast(TypeGiftAlert, g.From, map[string]any{"key": g.Key, "from": g.From, "name": c.name, "gift": g.Name,
		"amount": g.Amount, "currency": g.Currency, "message": g.Message, "giftMediaTime": g.MediaTime,
		"logSeq": ack.Seq}, classStream, "")
	c.ack(env, giftAck{Key: g.Key, LogSeq: ack.Seq})
	return nil
}

func (r *room) onAlert(c *Conn, env *Envelope) error {
	var p alertShow
	if err := DecodePayload(env, &p); err != nil {
		return err
	}
	switch {
	case p.Kind == "" || len(p.Kind) > 32:
		return errBadPayload("kind must be 1..32 bytes")
	case len(p.Text) > 300:
		return errBadPayload("text must be at most 300 bytes")
	case p.DurationMs < 0 || p.DurationMs > 60000:
		return errBadPayload("durationMs must be 0..60000")
	}
	if err := usertext.Check(p.Kind, usertext.Line); err != nil {
		return fmt.Errorf("%w: kind: %w", ErrBadPayload, err)
	}
	if err := usertext.Check(p.Text, usertext.Lines); err != nil {
		return fmt.Errorf("%w: text: %w", ErrBadPayload, err)
	}
	r.broadcastAt(TypeAlert, c.identity, p, classStream, "", actedAt(env.MediaTime, r.clock, r.hub.now()))
	c.ack(env, nil)
	return nil
}

// restore reads what the bus keeps for this room: lots, gifts and chat history. Whatever
// cannot be read is logged; the room starts anyway.
func (r *room) restore() {
	found := map[string]*lotRecords{}
	if err := r.replayLots(bus.AuctionLogs(r.name), found); err != nil {
		r.log.Error("restoring auctions; reading them again in the background", zap.Error(err))
		r.relist = &follow{} // lotfollow.go: on after what was read
		for _, lr := range found {
			if n := len(lr.seqs); n > 0 {
				r.relistFrom = max(r.relistFrom, lr.seqs[n-1]+1)
			}
		}
	}
	r.buildLots(found)
	ctx, cancel := context.WithTimeout(r.hub.ctx, 6*r.hub.cfg.BusTimeout)
	defer cancel()
	err := r.hub.bus.Replay(ctx, bus.GiftLog(r.name), 0, func(rec bus.Record) error {
		var g gift.Gift
		if json.Unmarshal(rec.Data, &g) == nil {
			_, _, _ = r.gifts.Record(g, rec.Seq)
		}
		return nil
	})
	if err != nil {
		r.log.Error("restoring gifts", zap.Error(err))
	}
	if err := r.restoreChat(ctx); err != nil {
		r.log.Error("restoring chat history", zap.Error(err))
	}
}
