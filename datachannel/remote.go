package datachannel

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/chat"
	"github.com/glintlive/glint/datachannel/gift"
	"github.com/glintlive/glint/datachannel/qna"
)

// Several nodes may serve one room (they share the bus). What is durable is shared
// through the bus's logs: auctions (each lot's log, followed by lotfollow.go) and gifts. Chat,
// moderation, gift alerts and host alerts are events: every node publishes those of its
// room's events on the bus (remoteTypes) and applies and re-broadcasts the other nodes'
// here. Presence, poll tallies and Q&A are shared by node reports (presence_remote.go,
// poll_remote.go, qna_remote.go).

// newChat is a room's chat with message ids unique to this node.
func newChat(h *Hub) *chat.Room {
	c := chat.New(h.cfg.Chat)
	c.SetIDPrefix("m" + nodeTag(h) + ".")
	return c
}

// newBoard is a room's Q&A board with question ids unique to this node.
func newBoard(h *Hub) *qna.Board {
	b := qna.New(qna.DefaultConfig())
	b.SetIDPrefix(nodeTag(h) + ".")
	return b
}

// nodeTag is a short tag of this node's id, for ids made here.
func nodeTag(h *Hub) string {
	sum := sha256.Sum256([]byte(h.bus.Node()))
	return hex.EncodeToString(sum[:3])
}

// watchBus follows the room's events from other nodes and hands the ones this node acts
// on to the room's goroutine. It returns a stop function.
func (r *room) watchBus() func() {
	own := r.hub.bus.Node()
	sub, err := r.hub.bus.Subscribe(r.name, "*", func(m bus.Msg) {
		if m.Node == own {
			return
		}
		switch m.Topic { // reports: a lost one is repeated within a heartbeat
		case presenceTopic:
			if p, ok := decodePresence(m.Node, m.Data, r.hub.now()); ok {
				r.fromBus(command{presence: p})
			}
			return
		case pollTopic:
			if p, ok := decodePoll(m.Node, m.Data); ok {
				r.fromBus(command{poll: p})
			}
			return
		case qnaTopic:
			if q, ok := decodeQna(m.Node, m.Data); ok {
				r.fromBus(command{qna: q})
			}
			return
		case syncTopic:
			r.fromBus(command{sync: true, syncFrom: m.Node})
			return
		}
		if !remoteTypes[m.Topic] {
			return
		}
		env := &Envelope{}
		if json.Unmarshal(m.Data, env) != nil || env.Type != m.Topic {
			return
		}
		r.fromBus(command{remote: env}) // a dropped auction event is made up for by the follower's reads (lotfollow.go)
	})
	if err != nil {
		r.log.Warn("not following other nodes' events for this room", zap.Error(err))
		return func() {}
	}
	// Polls and questions from before this room started here are reported now, not a
	// heartbeat later.
	if err := r.hub.bus.Publish(r.name, syncTopic, nil); err != nil {
		r.log.Debug("asking other nodes for their reports", zap.Error(err))
	}
	return sub.Stop
}

// fromBus hands the room's goroutine what came off the bus, or drops it when the room is
// busy: the bus is never blocked (reports repeat; events are caught up or lost, as a
// client's own would be).
func (r *room) fromBus(cmd command) {
	select {
	case r.inbox <- cmd:
	default:
		r.log.Debug("room busy; dropping what another node sent")
	}
}

// remoteTypes are the events of other nodes a room acts on, and so the only ones a room
// publishes on the bus (with presence, presence_remote.go): a poll's tallies or a Q&A
// change would cross the cluster for nothing.
var remoteTypes = map[string]bool{
	TypeAuctionState: true, TypeChatMessage: true, TypeChatDeleted: true, TypeChatPinned: true,
	TypeChatModeration: true, TypeChatSlowMode: true, TypeGiftAlert: true, TypeAlert: true,
}

// onRemote applies another node's event to this room's state and re-broadcasts it to
// this node's connections, with this room's sequence number.
func (r *room) onRemote(env *Envelope) {
	switch env.Type {
	case TypeAuctionState:
		var st lotState
		if json.Unmarshal(env.Payload, &st) == nil && st.LotID != "" {
			r.lotChanged(st.LotID, st.LogSeq) // the log says what happened; the follower's read announces it
		}
		return
	case TypeChatMessage:
		var m chat.Message
		if json.Unmarshal(env.Payload, &m) != nil || m.ID == "" {
			return
		}
		r.chat.Add(m)
	case TypeChatDeleted:
		var p struct {
			IDs []string `json:"messageIds"`
		}
		_ = json.Unmarshal(env.Payload, &p)
		for _, id := range p.IDs {
			_ = r.chat.Delete("", true, id)
		}
	case TypeChatPinned:
		var p struct {
			Message *chat.Message `json:"message"`
		}
		_ = json.Unmarshal(env.Payload, &p)
		id := ""
		if p.Message != nil {
			id = p.Message.ID
		}
		_, _ = r.chat.Pin(id)
	case TypeChatModeration:
		r.remoteModeration(env)
	case TypeChatSlowMode:
		var p chatSlow
		_ = json.Unmarshal(env.Payload, &p)
		_ = r.chat.SetSlowMode(time.Duration(p.Seconds) * time.Second)
	case TypeGiftAlert:
		// Remember the gift so a retry sent to this node is recognised, not announced again,
		// and acked with the gift's logSeq. (The payload's key, from, gift, amount, currency
		// and message are gift.Gift's.)
		var p struct {
			gift.Gift
			LogSeq uint64 `json:"logSeq"`
		}
		if json.Unmarshal(env.Payload, &p) == nil {
			_, _, _ = r.gifts.Record(p.Gift, p.LogSeq)
		}
	}
	r.relay(env)
}

func (r *room) remoteModeration(env *Envelope) {
	var p struct {
		Identity string `json:"identity"`
		Action   string `json:"action"`
		Until    int64  `json:"until"`
	}
	if json.Unmarshal(env.Payload, &p) != nil {
		return
	}
	now := r.hub.now()
	switch p.Action {
	case "mute":
		_ = r.chat.Mute(now, p.Identity, time.UnixMilli(p.Until))
	case "unmute":
		_ = r.chat.Mute(now, p.Identity, time.Time{})
	case "ban":
		_, _ = r.chat.Ban(now, p.Identity)
	}
}

// relay re-broadcasts another node's event to this node's connections only (it is on
// the bus already), under this room's sequence numbers.
func (r *room) relay(env *Envelope) {
	r.seq++
	out := *env
	out.Seq, out.ID = r.seq, ""
	data, err := json.Marshal(&out)
	if err != nil {
		return
	}
	cl, key := classStream, ""
	switch env.Type {
	case TypeChatPinned:
		cl, key = classState, "pin"
	case TypeChatSlowMode:
		cl, key = classState, "slowmode"
	}
	if cl == classState {
		r.snaps.Store(key, data)
	}
	r.fanOut(outgoing{data: data, class: cl, key: key})
}
