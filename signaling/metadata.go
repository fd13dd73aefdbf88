package signaling

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/glintlive/glint/datachannel/usertext"
	"github.com/glintlive/glint/signaling/auth"
)

// Categories are the directory's categories, exactly as the platform names them.
var Categories = []string{"Art", "Causes", "Crafts", "Dance", "Drinks", "Film", "Fitness", "Food",
	"Juegos", "Gardening", "Health", "Home", "Literature", "Music", "Networking", "Other", "Party",
	"Religion", "Shopping", "Sports", "Theater", "Wellness"}

// Limits on a room's metadata.
const (
	maxTitleRunes    = 140
	maxTags          = 10
	maxTagBytes      = 32
	maxThumbnailURL  = 2048
	maxMetadataBody  = 8 << 10
	maxMetadataRooms = 10_000
)

// RoomMetadata is what a host or its backend says about a room, for the directory.
type RoomMetadata struct {
	Title        string    `json:"title"`
	Category     string    `json:"category"`
	Tags         []string  `json:"tags"`
	ThumbnailURL string    `json:"thumbnailUrl,omitempty"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// validate checks m as a client sent it.
func (m *RoomMetadata) validate() error {
	if n := utf8.RuneCountInString(m.Title); n == 0 || n > maxTitleRunes {
		return fmt.Errorf("%w: title must be 1..%d characters", errBadRequest, maxTitleRunes)
	}
	if err := usertext.Check(m.Title, usertext.Line); err != nil {
		return fmt.Errorf("%w: title: %w", errBadRequest, err)
	}
	if !slices.Contains(Categories, m.Category) {
		return fmt.Errorf("%w: category %q is not one of %v", errBadRequest, truncateParam(m.Category), Categories)
	}
	if len(m.Tags) > maxTags {
		return fmt.Errorf("%w: at most %d tags", errBadRequest, maxTags)
	}
	for _, tag := range m.Tags {
		if len(tag) > maxTagBytes {
			return fmt.Errorf("%w: a tag is at most %d bytes", errBadRequest, maxTagBytes)
		}
		if err := usertext.CheckID(tag); err != nil {
			return fmt.Errorf("%w: tag: %w", errBadRequest, err)
		}
	}
	if m.ThumbnailURL != "" {
		u, err := url.Parse(m.ThumbnailURL)
		if err != nil || len(m.ThumbnailURL) > maxThumbnailURL || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return fmt.Errorf("%w: thumbnailUrl must be an http(s) URL of at most %d bytes, without credentials", errBadRequest, maxThumbnailURL)
		}
	}
	return nil
}

// metadataStore keeps rooms' metadata on this node, for rooms that are open or about to
// be (a host sets its title before going live). Bounded: when full, the entry of a room
// not open that was set longest ago goes.
type metadataStore struct {
	mu    sync.Mutex
	rooms map[string]RoomMetadata
}

func (m *metadataStore) get(room string) (RoomMetadata, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	md, ok := m.rooms[room]
	return md, ok
}

// set stores md for room; open says which rooms are open now, for eviction.
func (m *metadataStore) set(room string, md RoomMetadata, open func(string) bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rooms == nil {
		m.rooms = map[string]RoomMetadata{}
	}
	if _, ok := m.rooms[room]; !ok && len(m.rooms) >= maxMetadataRooms {
		victim := ""
		for name, old := range m.rooms {
			if !open(name) && (victim == "" || old.UpdatedAt.Before(m.rooms[victim].UpdatedAt)) {
				victim = name
			}
		}
		if victim == "" {
			return fmt.Errorf("%w: %d rooms have metadata and all are open", errUnavailable, maxMetadataRooms)
		}
		delete(m.rooms, victim)
	}
	m.rooms[room] = md
	return nil
}

// putMetadata serves PUT /rooms/{room}/metadata (roomAdmin): a JSON RoomMetadata, which
// replaces what the room had. The room need not be open yet.
func (s *Server) putMetadata(w http.ResponseWriter, r *http.Request) {
	room := roomParam(w, r)
	if room == "" {
		return
	}
	if _, err := s.verifier.Authorize(r, room, false, auth.PermAdmin); err != nil {
		writeError(w, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMetadataBody))
	if err != nil {
		writeError(w, fmt.Errorf("%w: the body is over %d bytes", errTooLarge, maxMetadataBody))
		return
	}
	md, err := s.setMetadata(room, body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, "no-store", md)
}

// setMetadata makes body, a JSON RoomMetadata, room's metadata, replacing what it had.
func (s *Server) setMetadata(room string, body []byte) (RoomMetadata, error) {
	var md RoomMetadata
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&md); err != nil {
		return md, fmt.Errorf("%w: the body must be a JSON object of title, category, tags and thumbnailUrl: %v", errBadRequest, err)
	}
	if md.Tags == nil {
		md.Tags = []string{}
	}
	if err := md.validate(); err != nil {
		return md, err
	}
	md.UpdatedAt = time.Now().UTC()
	open := map[string]bool{}
	for _, name := range s.roomNames() {
		open[name] = true
	}
	return md, s.metadata.set(room, md, func(name string) bool { return open[name] })
}
