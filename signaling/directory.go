package signaling

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// The directory: what is live on this node, for a platform's home page. Public (no token:
// it lists what anyone may find) and cacheable for a few seconds, so a CDN in front takes
// the load of a busy home page.

// directoryMaxAge is how long a directory answer may be cached.
const directoryMaxAge = 5 * time.Second

// Pages of the directory: defaultDirectoryPage without limit, at most maxDirectoryPage.
const (
	defaultDirectoryPage = 100
	maxDirectoryPage     = 500
)

// directoryEntry is one live room as the directory shows it.
type directoryEntry struct {
	Room         string    `json:"room"`
	Title        string    `json:"title"`
	Category     string    `json:"category"`
	Tags         []string  `json:"tags"`
	ThumbnailURL string    `json:"thumbnailUrl,omitempty"`
	Viewers      int       `json:"viewers"` // WebRTC viewers and interaction connections
	LiveSince    time.Time `json:"liveSince"`
}

type directoryPage struct {
	Category string           `json:"category,omitempty"`
	Rooms    []directoryEntry `json:"rooms"`
}

// directory serves GET /directory[?category=C&limit=N]: the rooms whose host is live and
// that have metadata (a title and a category), most watched first.
func (s *Server) directory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	category := q.Get("category")
	if category != "" && !slices.Contains(Categories, category) {
		writeError(w, fmt.Errorf("%w: category %q is not one of %v", errBadRequest, truncateParam(category), Categories))
		return
	}
	limit, err := limitParam(r, defaultDirectoryPage, maxDirectoryPage)
	if err != nil {
		writeError(w, err)
		return
	}
	page := directoryPage{Category: category, Rooms: []directoryEntry{}}
	for _, name := range s.roomNames() {
		md, ok := s.metadata.get(name)
		if !ok || (category != "" && md.Category != category) {
			continue
		}
		room := s.sfu.Room(name)
		if room == nil || !room.Host().Live {
			continue
		}
		e := directoryEntry{Room: name, Title: md.Title, Category: md.Category, Tags: md.Tags,
			ThumbnailURL: md.ThumbnailURL, Viewers: room.Info().Viewers, LiveSince: room.Host().Since.UTC()}
		if e.ThumbnailURL == "" && s.thumbs != nil && s.thumbs.Available() {
			e.ThumbnailURL = thumbnailPath(name) // made from the live video (sfu/thumbnail)
		}
		if s.hub != nil {
			e.Viewers += s.hub.Members(name)
		}
		page.Rooms = append(page.Rooms, e)
	}
	slices.SortStableFunc(page.Rooms, func(a, b directoryEntry) int { return b.Viewers - a.Viewers })
	if len(page.Rooms) > limit {
		page.Rooms = page.Rooms[:limit]
	}
	writePublicJSON(w, page)
}

// categories serves GET /directory/categories: the categories a room may have.
func (s *Server) categories(w http.ResponseWriter, _ *http.Request) {
	writePublicJSON(w, map[string][]string{"categories": Categories})
}

// writePublicJSON answers v as JSON anyone may cache for directoryMaxAge: the same for
// every client (no token, no cookie, nothing per viewer).
func writePublicJSON(w http.ResponseWriter, v any) {
	writeJSON(w, fmt.Sprintf("public, max-age=%d", int(directoryMaxAge.Seconds())), v)
}
