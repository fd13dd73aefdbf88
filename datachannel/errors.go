package datachannel

import (
	"errors"
	"fmt"

	"github.com/glintlive/glint/datachannel/auction"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/chat"
	"github.com/glintlive/glint/datachannel/gift"
	"github.com/glintlive/glint/datachannel/poll"
	"github.com/glintlive/glint/datachannel/qna"
	"github.com/glintlive/glint/datachannel/usertext"
)

// Error codes carried in error events. They are part of the protocol (docs/PROTOCOL.md):
// clients switch on them, so they never change meaning.
const (
	CodeTooLarge    = "too_large"    // the message is longer than the limit
	CodeBadJSON     = "bad_json"     // not a single JSON object, or unknown fields
	CodeBadVersion  = "bad_version"  // v is not 1
	CodeUnknownType = "unknown_type" // type is not one a client may send
	CodeBadPayload  = "bad_payload"  // payload does not fit the type
	CodeForgedFrom  = "forged_from"  // from names someone other than the token's identity
	CodeWrongRoom   = "wrong_room"   // room names another room than the connection's
	CodeForbidden   = "forbidden"    // the token does not allow this (anonymous, no data, not admin)
	CodeRateLimited = "rate_limited" // too many messages from this identity
	CodeRejected    = "rejected"     // the room's rules refuse it (see message); retrying will not help
	CodeNotFound    = "not_found"    // no such message, poll, question or lot
	CodeConflict    = "conflict"     // another writer got there first; the client may retry
	CodeUnavailable = "unavailable"  // the bus is down or the room is closing; retry later
	CodeInternal    = "internal"     // a server bug; nothing was done

	// Codes for rules of the room's features.
	CodeClosed         = "closed"          // the poll, lot or question is closed
	CodeTooLow         = "too_low"         // a bid below the minimum; the message says the minimum
	CodeAlreadyHighest = "already_highest" // the bidder holds the high bid already
	CodeSlowMode       = "slow_mode"       // slow mode: wait before the next chat message
	CodeMuted          = "muted"           // a moderator muted this identity
	CodeBanned         = "banned"          // a moderator banned this identity from chat
)

// Sentinels for the decoder; each maps to one code.
var (
	ErrTooLarge = errors.New("message too large")
	ErrBadJSON  = errors.New("malformed JSON envelope")
	// ErrBinary: a binary WebSocket frame or data-channel message; the protocol is text.
	ErrBinary      = errors.New("binary message refused: send each envelope as one text message")
	ErrBadVersion  = errors.New("unsupported envelope version")
	ErrUnknownType = errors.New("unknown message type")
	ErrBadPayload  = errors.New("invalid payload")
	ErrForgedFrom  = errors.New("from does not match the token identity")
	ErrWrongRoom   = errors.New("room does not match the connection's room")
	ErrForbidden   = errors.New("forbidden")
	ErrRateLimited = errors.New("rate limited")
	ErrNotFound    = errors.New("not found")
	ErrRejected    = errors.New("rejected")
	ErrUnavailable = errors.New("unavailable")
	// ErrClosed: the hub or connection is closed.
	ErrClosed = errors.New("datachannel: closed")
	// ErrBadPage: Hub.Gifts was asked for a page size outside 1..MaxGiftPage.
	ErrBadPage = fmt.Errorf("datachannel: limit must be 1..%d", MaxGiftPage)
)

// codeOf maps an error from the decoder, the hub or a state machine to its wire code.
func codeOf(err error) string {
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return CodeInternal
}

var errorCodes = []struct {
	err  error
	code string
}{
	{chat.ErrInvalid, CodeBadPayload},
	{chat.ErrRateLimited, CodeRateLimited},
	{chat.ErrSlowMode, CodeSlowMode},
	{chat.ErrMuted, CodeMuted},
	{chat.ErrBanned, CodeBanned},
	{chat.ErrNotFound, CodeNotFound},
	{chat.ErrForbidden, CodeForbidden},
	{poll.ErrInvalidSpec, CodeBadPayload},
	{poll.ErrInvalidVote, CodeBadPayload},
	{poll.ErrClosed, CodeClosed},
	{qna.ErrInvalid, CodeBadPayload},
	{qna.ErrNotFound, CodeNotFound},
	{qna.ErrNotOpen, CodeClosed},
	{qna.ErrForbidden, CodeForbidden},
	{qna.ErrOwnQuestion, CodeRejected},
	{auction.ErrInvalidSpec, CodeBadPayload},
	{auction.ErrInvalidBid, CodeBadPayload},
	{auction.ErrClosed, CodeClosed},
	{auction.ErrTooLow, CodeTooLow},
	{auction.ErrAlreadyHighest, CodeAlreadyHighest},
	{auction.ErrSellerBid, CodeForbidden},
	{gift.ErrInvalid, CodeBadPayload},
	{gift.ErrKeyReused, CodeRejected},
	{usertext.ErrInvalid, CodeBadPayload},
	{bus.ErrConflict, CodeConflict},
	{ErrTooLarge, CodeTooLarge},
	{ErrBadJSON, CodeBadJSON},
	{ErrBinary, CodeBadJSON},
	{ErrBadVersion, CodeBadVersion},
	{ErrUnknownType, CodeUnknownType},
	{ErrBadPayload, CodeBadPayload},
	{ErrForgedFrom, CodeForgedFrom},
	{ErrWrongRoom, CodeWrongRoom},
	{ErrForbidden, CodeForbidden},
	{ErrRateLimited, CodeRateLimited},
	{ErrNotFound, CodeNotFound},
	{ErrRejected, CodeRejected},
	{ErrUnavailable, CodeUnavailable},
	{ErrClosed, CodeUnavailable},
}

// ErrorPayload is the payload of an error event.
type ErrorPayload struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Ref is the id of the client message this answers, when it had one.
	Ref string `json:"ref,omitempty"`
}

func errForbidden(why string) error { return fmt.Errorf("%w: %s", ErrForbidden, why) }

func errBadPayload(why string) error { return fmt.Errorf("%w: %s", ErrBadPayload, why) }
