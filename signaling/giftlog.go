package signaling

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/gift"
	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/signaling/auth"
)

// defaultGiftPage is how many gifts GET /rooms/{room}/gifts returns without limit.
const defaultGiftPage = 100

// giftPage is the answer of GET /rooms/{room}/gifts.
type giftPage struct {
	Room  string       `json:"room"`
	Gifts []loggedGift `json:"gifts"`
	// Next is the after of the next page: the last gift's seq, or the request's after.
	Next uint64 `json:"next"`
	// More says the next page has gifts already.
	More bool `json:"more"`
}

// loggedGift is a gift with its place in the log and its webhook event id.
type loggedGift struct {
	Seq     uint64 `json:"seq"`
	EventID string `json:"eventId"`
	gift.Gift
}

// giftLog serves GET /rooms/{room}/gifts?after=SEQ&limit=N: the room's gift log, in
// order, for a backend to reconcile with the webhooks it received (at-least-once, so
// a backend that was away, or added its webhook late, checks here). Needs roomAdmin.
func (s *Server) giftLog(hub *datachannel.Hub) http.HandlerFunc {
	return servePage(s, "gift log", hub.Gifts, func(room string, g datachannel.LoggedGift) (loggedGift, uint64) {
		return loggedGift{Seq: g.Seq, EventID: GiftEventID(room, g.Gift.From, g.Gift.Key), Gift: g.Gift}, g.Seq
	}, func(room string, items []loggedGift, next uint64, more bool) any {
		return giftPage{Room: room, Gifts: items, Next: next, More: more}
	})
}

// undeliveredPage is the answer of GET /rooms/{room}/gifts/undelivered.
type undeliveredPage struct {
	Room        string             `json:"room"`
	Undelivered []undeliveredEntry `json:"undelivered"`
	Next        uint64             `json:"next"` // the after of the next page: the last entry's
	More        bool               `json:"more"`
}

// undeliveredEntry is a gift a webhook gave up on, with its place in the undelivered log
// (entry; seq is the gift's in the gift log) and its webhook event id.
type undeliveredEntry struct {
	Entry   uint64 `json:"entry"`
	EventID string `json:"eventId"`
	datachannel.UndeliveredGift
}

// undeliveredGifts serves GET /rooms/{room}/gifts/undelivered?after=ENTRY&limit=N: the
// gifts a webhook gave up on (GiftWebhook), in order, for the backend to take them from
// here. Needs roomAdmin.
func (s *Server) undeliveredGifts(hub *datachannel.Hub) http.HandlerFunc {
	return servePage(s, "undelivered gift log", hub.UndeliveredGifts, func(room string, u datachannel.LoggedUndelivered) (undeliveredEntry, uint64) {
		return undeliveredEntry{Entry: u.Seq, EventID: GiftEventID(room, u.Gift.From, u.Gift.Key), UndeliveredGift: u.UndeliveredGift}, u.Seq
	}, func(room string, items []undeliveredEntry, next uint64, more bool) any {
		return undeliveredPage{Room: room, Undelivered: items, Next: next, More: more}
	})
}

// servePage serves a room's log page by page (after, limit) to a roomAdmin of the room:
// read reads the records, item makes each the answer's and says its sequence, page makes
// the answer.
func servePage[R, I any](s *Server, what string, read func(ctx context.Context, room string, after uint64, limit int) ([]R, bool, error),
	item func(room string, r R) (I, uint64), page func(room string, items []I, next uint64, more bool) any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		room := roomParam(w, r)
		if room == "" {
			return
		}
		if _, err := s.verifier.Authorize(r, room, false, auth.PermAdmin); err != nil {
			writeError(w, err)
			return
		}
		after, limit, err := pageParams(r)
		if err != nil {
			writeError(w, err)
			return
		}
		records, more, err := read(r.Context(), room, after, limit)
		if err != nil {
			if errors.Is(err, roomname.ErrInvalid) || errors.Is(err, datachannel.ErrBadPage) {
				writeError(w, fmt.Errorf("%w: %w", errBadRequest, err))
				return
			}
			s.log.Error("reading a "+what, zap.String("room", room), zap.Error(err))
			writeError(w, fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
		items, next := make([]I, 0, len(records)), after
		for _, rec := range records {
			var it I
			it, next = item(room, rec)
			items = append(items, it)
		}
		writeJSON(w, "no-store", page(room, items, next, more))
	}
}

// pageParams reads after (default 0) and limit (default defaultGiftPage).
func pageParams(r *http.Request) (after uint64, limit int, err error) {
	if v := r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("%w: after must be a log sequence (an integer, 0 or more), got %q", errBadRequest, truncateParam(v))
		}
	}
	limit, err = limitParam(r, defaultGiftPage, datachannel.MaxGiftPage)
	return after, limit, err
}

func truncateParam(v string) string {
	if len(v) > 40 {
		return v[:40] + "…"
	}
	return v
}
