package chat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/glintlive/glint/datachannel/usertext"
)

// Message is one chat message. The room assigns ID.
type Message struct {
	ID        string `json:"messageId"`
	From      string `json:"from"`
	Name      string `json:"name,omitempty"`
	Text      string `json:"text"`
	At        int64  `json:"at"`                  // unix ms, server time
	MediaTime int64  `json:"mediaTime,omitempty"` // the live edge when it was accepted
}

// sender is what the room remembers about one identity.
type sender struct {
	bucket     *rate.Limiter // messages per second, sustained and at once
	last       time.Time
	mutedUntil time.Time
	banned     bool
}

// Room is one room's chat. Not safe for concurrent use.
type Room struct {
	cfg     Config
	prefix  string // of message ids, unique per node
	next    int
	history []Message
	pinned  *Message
	slow    time.Duration
	senders map[string]*sender
}

// maxSenders bounds the per-identity map; idle entries are forgotten past it.
const maxSenders = 10000

// New returns an empty chat; cfg must have passed Validate.
func New(cfg Config) *Room { return &Room{cfg: cfg, prefix: "m", senders: map[string]*sender{}} }

// SetIDPrefix makes message ids prefix+number. Servers sharing a room across nodes give
// each node its own prefix so ids never collide.
func (r *Room) SetIDPrefix(prefix string) { r.prefix = prefix }

// Send accepts text from an identity at now and returns the message to broadcast.
func (r *Room) Send(now time.Time, from, name string, admin bool, text string, mediaTime int64) (Message, error) {
	if err := usertext.Check(text, usertext.Lines); err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	text = strings.TrimSpace(text)
	if from == "" || text == "" || len(text) > r.cfg.MaxLen {
		return Message{}, fmt.Errorf("%w: text must be 1..%d bytes", ErrInvalid, r.cfg.MaxLen)
	}
	s := r.sender(now, from)
	if !admin {
		if err := r.admit(now, s); err != nil {
			return Message{}, err
		}
	}
	s.last = now
	r.next++
	m := Message{ID: r.prefix + strconv.Itoa(r.next), From: from, Name: name, Text: text, At: now.UnixMilli(), MediaTime: mediaTime}
	r.remember(m)
	return m, nil
}

// remember adds m to the bounded history.
func (r *Room) remember(m Message) {
	r.history = append(r.history, m)
	if over := len(r.history) - r.cfg.History; over > 0 {
		r.history = slices.Delete(r.history, 0, over)
	}
}

// Add puts a message accepted elsewhere (another node) into the history, without
// applying this room's rules to it. A message already there is ignored.
func (r *Room) Add(m Message) {
	if slices.ContainsFunc(r.history, func(h Message) bool { return h.ID == m.ID }) {
		return
	}
	r.remember(m)
}

// admit applies bans, mutes, slow mode and the token bucket, in that order, and takes a
// token when the message may go.
func (r *Room) admit(now time.Time, s *sender) error {
	switch {
	case s.banned:
		return ErrBanned
	case now.Before(s.mutedUntil):
		return fmt.Errorf("%w until %s", ErrMuted, s.mutedUntil.UTC().Format(time.RFC3339))
	case r.slow > 0 && !s.last.IsZero() && now.Sub(s.last) < r.slow:
		return fmt.Errorf("%w: one message every %v", ErrSlowMode, r.slow)
	}
	if !s.bucket.AllowN(now, 1) {
		return ErrRateLimited
	}
	return nil
}

func (r *Room) sender(now time.Time, id string) *sender {
	if s, ok := r.senders[id]; ok {
		return s
	}
	if len(r.senders) >= maxSenders {
		r.forgetIdle(now)
	}
	s := &sender{bucket: rate.NewLimiter(rate.Limit(r.cfg.Rate), r.cfg.Burst)}
	r.senders[id] = s
	return s
}

// forgetIdle drops senders with nothing to remember: no ban, no mute in force, a full
// bucket and no slow-mode interval running.
func (r *Room) forgetIdle(now time.Time) {
	for id, s := range r.senders {
		if !s.banned && !now.Before(s.mutedUntil) && s.bucket.TokensAt(now) >= float64(r.cfg.Burst) && now.Sub(s.last) > r.slow {
			delete(r.senders, id)
		}
	}
}

// Delete removes a message from the history: its author or a moderator may.
func (r *Room) Delete(by string, admin bool, id string) error {
	i := slices.IndexFunc(r.history, func(m Message) bool { return m.ID == id })
	if i < 0 {
		return ErrNotFound
	}
	if !admin && r.history[i].From != by {
		return ErrForbidden
	}
	r.history = slices.Delete(r.history, i, i+1)
	if r.pinned != nil && r.pinned.ID == id {
		r.pinned = nil
	}
	return nil
}

// Pin pins a message from the history; an empty id unpins.
func (r *Room) Pin(id string) (*Message, error) {
	if id == "" {
		r.pinned = nil
		return nil, nil
	}
	i := slices.IndexFunc(r.history, func(m Message) bool { return m.ID == id })
	if i < 0 {
		return nil, ErrNotFound
	}
	m := r.history[i]
	r.pinned = &m
	return &m, nil
}

// Mute silences identity until the given time; a zero or past time unmutes.
func (r *Room) Mute(now time.Time, identity string, until time.Time) error {
	if identity == "" {
		return fmt.Errorf("%w: no identity", ErrInvalid)
	}
	r.sender(now, identity).mutedUntil = until
	return nil
}

// Ban silences identity for the life of the room and removes their messages from the
// history. It returns the ids removed, so the caller can tell clients to delete them.
func (r *Room) Ban(now time.Time, identity string) ([]string, error) {
	if identity == "" {
		return nil, fmt.Errorf("%w: no identity", ErrInvalid)
	}
	r.sender(now, identity).banned = true
	var gone []string
	r.history = slices.DeleteFunc(r.history, func(m Message) bool {
		if m.From == identity {
			gone = append(gone, m.ID)
			return true
		}
		return false
	})
	if r.pinned != nil && r.pinned.From == identity {
		r.pinned = nil
	}
	return gone, nil
}

// Banned reports whether identity is banned from chat.
func (r *Room) Banned(identity string) bool {
	s, ok := r.senders[identity]
	return ok && s.banned
}

// SetSlowMode sets the minimum interval between one identity's messages; 0 turns it off.
func (r *Room) SetSlowMode(d time.Duration) error {
	if d < 0 || d > MaxSlowMode {
		return fmt.Errorf("%w: slow mode must be 0..%v", ErrInvalid, MaxSlowMode)
	}
	r.slow = d
	return nil
}

// SlowMode returns the current slow-mode interval.
func (r *Room) SlowMode() time.Duration { return r.slow }

// History returns the last messages, oldest first (a copy), and the pinned message.
func (r *Room) History() ([]Message, *Message) {
	return append([]Message(nil), r.history...), r.pinned
}

// Restore seeds the history (after a restart, from the bus) and continues numbering after
// the highest id of this room's prefix.
func (r *Room) Restore(msgs []Message) {
	for _, m := range msgs {
		rest, ok := strings.CutPrefix(m.ID, r.prefix)
		if n, err := strconv.Atoi(rest); ok && err == nil && n > r.next {
			r.next = n
		}
	}
	if over := len(msgs) - r.cfg.History; over > 0 {
		msgs = msgs[over:]
	}
	r.history = append([]Message(nil), msgs...)
}
