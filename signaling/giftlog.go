package signaling

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/gift"
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
		gifts, more, err := hub.Gifts(r.Context(), room, after, limit)
		if err != nil {
			if errors.Is(err, datachannel.ErrInvalidRoom) || errors.Is(err, datachannel.ErrBadPage) {
				writeError(w, fmt.Errorf("%w: %w", errBadRequest, err))
				return
			}
			s.log.Error("reading a gift log", zap.String("room", room), zap.Error(err))
			writeError(w, fmt.Errorf("%w: %w", errUnavailable, err))
			return
		}
		page := giftPage{Room: room, Gifts: make([]loggedGift, 0, len(gifts)), Next: after, More: more}
		for _, g := range gifts {
			page.Gifts = append(page.Gifts, loggedGift{Seq: g.Seq, EventID: GiftEventID(room, g.Gift.From, g.Gift.Key), Gift: g.Gift})
			page.Next = g.Seq
		}
		writeJSON(w, "no-store", page)
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
