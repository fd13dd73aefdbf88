package datachannel

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/chat"
)

// historyRecord is one entry of a room's chat history log: a message, or a tombstone for
// a message deleted later.
type historyRecord struct {
	Message *chat.Message `json:"message,omitempty"`
	Deleted []string      `json:"deleted,omitempty"`
}

func (r *room) onChat(c *Conn, env *Envelope) error {
	now := r.hub.now()
	switch env.Type {
	case TypeChatSend:
		var p chatSend
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		m, err := r.chat.Send(now, c.identity, c.name, c.admin, p.Text, stamp(r.clock, now))
		if err != nil {
			return err
		}
		r.broadcast(TypeChatMessage, c.identity, m, classStream, "")
		r.keepHistory(historyRecord{Message: &m})
		c.ack(env, map[string]string{"messageId": m.ID})
	case TypeChatDelete:
		var p chatRef
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		if err := r.chat.Delete(c.identity, c.admin, p.MessageID); err != nil {
			return err
		}
		r.deleted(c.identity, []string{p.MessageID})
		c.ack(env, nil)
	case TypeChatPin:
		var p chatRef
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		m, err := r.chat.Pin(p.MessageID)
		if err != nil {
			return err
		}
		r.broadcast(TypeChatPinned, c.identity, map[string]any{"message": m}, classState, "pin")
		c.ack(env, nil)
	default:
		return r.onModeration(c, env, now)
	}
	return nil
}

func (r *room) onModeration(c *Conn, env *Envelope, now time.Time) error {
	switch env.Type {
	case TypeChatMute, TypeChatUnmute:
		var p chatMute
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		if p.Seconds < 0 || p.Seconds > 7*24*3600 || (env.Type == TypeChatUnmute && p.Seconds != 0) {
			return errBadPayload("seconds must be 0..604800 (and absent for unmute)")
		}
		until := now.Add(time.Duration(p.Seconds) * time.Second)
		if err := r.chat.Mute(now, p.Identity, until); err != nil {
			return err
		}
		action, untilMs := "mute", until.UnixMilli()
		if p.Seconds == 0 {
			action, untilMs = "unmute", 0
		}
		r.broadcast(TypeChatModeration, c.identity, map[string]any{"identity": p.Identity, "action": action, "until": untilMs}, classStream, "")
	case TypeChatBan:
		var p chatIdentity
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		gone, err := r.chat.Ban(now, p.Identity)
		if err != nil {
			return err
		}
		r.broadcast(TypeChatModeration, c.identity, map[string]any{"identity": p.Identity, "action": "ban"}, classStream, "")
		if len(gone) > 0 {
			r.deleted(c.identity, gone)
		}
	case TypeChatSlow:
		var p chatSlow
		if err := DecodePayload(env, &p); err != nil {
			return err
		}
		if err := r.chat.SetSlowMode(time.Duration(p.Seconds) * time.Second); err != nil {
			return err
		}
		r.broadcast(TypeChatSlowMode, c.identity, map[string]int{"seconds": p.Seconds}, classState, "slowmode")
	}
	c.ack(env, nil)
	return nil
}

func (r *room) deleted(by string, ids []string) {
	r.broadcast(TypeChatDeleted, by, map[string][]string{"messageIds": ids}, classStream, "")
	r.keepHistory(historyRecord{Deleted: ids})
}

// keepHistory appends to the room's chat history on the bus, off the room's goroutine.
// History is best effort: a crash may lose the last messages, never a bid or a gift.
func (r *room) keepHistory(rec historyRecord) {
	data, err := json.Marshal(rec)
	if err != nil {
		return
	}
	h, name := r.hub, r.name
	h.side("chat history", func() {
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.BusTimeout)
		defer cancel()
		if _, err := h.bus.Append(ctx, bus.HistoryLog(name), data, bus.AppendOptions{}); err != nil {
			h.log.Debug("chat history append", zap.String("room", name), zap.Error(err))
		}
	})
}

// restoreChat reads the room's history back from the bus.
func (r *room) restoreChat(ctx context.Context) error {
	var msgs []chat.Message
	err := r.hub.bus.Replay(ctx, bus.HistoryLog(r.name), 0, func(rec bus.Record) error {
		var h historyRecord
		if json.Unmarshal(rec.Data, &h) != nil {
			return nil // skip what we cannot read rather than lose the rest
		}
		if h.Message != nil {
			msgs = append(msgs, *h.Message)
		}
		for _, id := range h.Deleted {
			for i := range msgs {
				if msgs[i].ID == id {
					msgs = append(msgs[:i], msgs[i+1:]...)
					break
				}
			}
		}
		return nil
	})
	r.chat.Restore(msgs)
	return err
}
