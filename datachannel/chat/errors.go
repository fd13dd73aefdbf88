package chat

import "errors"

var (
	// ErrInvalid: empty or oversized text, text the usertext policy refuses, or a bad setting.
	ErrInvalid = errors.New("chat: invalid message")
	// ErrRateLimited: the sender is over the per-identity rate.
	ErrRateLimited = errors.New("chat: too many messages")
	// ErrSlowMode: slow mode is on and the sender's last message was too recent.
	ErrSlowMode = errors.New("chat: slow mode")
	// ErrMuted: a moderator muted the sender.
	ErrMuted = errors.New("chat: muted")
	// ErrBanned: a moderator banned the sender from chat.
	ErrBanned = errors.New("chat: banned")
	// ErrNotFound: no such message in the history.
	ErrNotFound = errors.New("chat: no such message")
	// ErrForbidden: only the author or a moderator may delete a message.
	ErrForbidden = errors.New("chat: not allowed")
)
