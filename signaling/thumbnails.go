package signaling

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/glintlive/glint/sfu/thumbnail"
	"github.com/glintlive/glint/signaling/auth"
)

// SetThumbnails serves GET /rooms/{room}/thumbnail.jpg from m, and gives the directory's
// rooms without a thumbnail URL of their own that one (when m can make thumbnails).
func (s *Server) SetThumbnails(m *thumbnail.Maker) {
	s.thumbs = m
	s.mux.HandleFunc("GET /rooms/{room}/thumbnail.jpg", s.limited(s.thumbnail))
}

// thumbnailPath is the thumbnail URL (server-relative) of a room.
func thumbnailPath(room string) string { return "/rooms/" + room + "/thumbnail.jpg" }

// thumbnail serves a live room's JPEG, cacheable for thumbnail.MaxAge from when it was
// taken: public for a room in the directory, else with the grant to watch the room.
func (s *Server) thumbnail(w http.ResponseWriter, r *http.Request) {
	room := roomParam(w, r)
	if room == "" {
		return
	}
	// A room in the directory (one with metadata) shows its picture to anyone, as the
	// directory does; any other room's is for those who may watch it.
	_, listed := s.metadata.get(room)
	if !listed {
		if _, err := s.verifier.Authorize(r, room, s.cfg.AllowAnonymousViewing, auth.PermSubscribe); err != nil {
			writeError(w, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	jpeg, at, err := s.thumbs.Get(ctx, room)
	switch {
	case errors.Is(err, thumbnail.ErrNotLive):
		writeError(w, fmt.Errorf("%w: %w", errRoomNotOpen, err))
		return
	case errors.Is(err, thumbnail.ErrNoFFmpeg), errors.Is(err, thumbnail.ErrBusy), errors.Is(err, thumbnail.ErrNoKeyframe),
		errors.Is(err, context.DeadlineExceeded):
		writeError(w, fmt.Errorf("%w: %w", errUnavailable, err))
		return
	case err != nil:
		writeError(w, fmt.Errorf("%w: making the thumbnail failed", errUnavailable))
		return
	}
	left := max(0, int((thumbnail.MaxAge - time.Since(at)).Seconds()))
	w.Header().Set("Content-Type", "image/jpeg")
	scope := "private"
	if listed {
		scope = "public"
	}
	w.Header().Set("Cache-Control", scope+", max-age="+strconv.Itoa(left))
	w.Header().Set("Last-Modified", at.UTC().Format(http.TimeFormat))
	_, _ = w.Write(jpeg)
}
