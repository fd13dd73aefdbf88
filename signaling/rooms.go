package signaling

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/signaling/auth"
)

// The room API's reading half: GET /rooms lists the rooms this node serves, GET
// /rooms/{room} reads one. Listing needs LiveKit's roomList grant (not scoped to a room);
// reading one room also accepts roomAdmin for that room. docs/API.md documents both.

// Pages of GET /rooms: defaultRoomPage without limit, at most maxRoomPage.
const (
	defaultRoomPage = 100
	maxRoomPage     = 1000
)

// roomView is one room as the API shows it.
type roomView struct {
	Name string `json:"name"`
	// Host is the host's state: "live" (sending media), "stopped" (ended the stream),
	// "gone" (lost: the session was reaped), or "waiting" (none has gone live yet).
	Host      string     `json:"host"`
	HostSince *time.Time `json:"hostSince,omitempty"` // when Host last changed
	// Publisher is the identity of the WHIP session on the stage, when there is one
	// (an RTMP host shows as publishing without one).
	Publisher  string `json:"publisher,omitempty"`
	Publishing bool   `json:"publishing"`
	// Metadata is what PUT /rooms/{room}/metadata last set, if anything.
	Metadata *RoomMetadata `json:"metadata,omitempty"`
	Viewers  struct {
		// WebRTC counts media sessions (WHEP); Interaction the room's chat and event
		// connections (WebSockets and data channels), which LL-HLS viewers also open.
		WebRTC      int `json:"webrtc"`
		Interaction int `json:"interaction"`
		// LLHLS counts the players reading the room's LL-HLS from this node (distinct
		// clients within the last 10 s; behind a CDN, its edges).
		LLHLS int `json:"llhls"`
	} `json:"viewers"`
	// Cluster is the room across the cluster, on a node of one, for roomList tokens
	// (ingest/relay's ClusterView: the origin, the relaying nodes and the viewers on all of
	// them).
	Cluster any `json:"cluster,omitempty"`
}

// roomPage is the answer of GET /rooms.
type roomPage struct {
	Rooms []roomView `json:"rooms"`
	// Next is the after of the next page (the last room's name), More whether it has rooms.
	Next string `json:"next,omitempty"`
	More bool   `json:"more"`
}

// listRooms serves GET /rooms?after=NAME&limit=N: the rooms in name order.
func (s *Server) listRooms(w http.ResponseWriter, r *http.Request) {
	claims, err := s.verifier.RequestClaims(r)
	if err == nil {
		err = claims.AllowList()
	}
	if err != nil {
		writeError(w, err)
		return
	}
	after, limit, err := roomPageParams(r)
	if err != nil {
		writeError(w, err)
		return
	}
	names := s.roomNames()
	i, _ := slices.BinarySearch(names, after)
	if i < len(names) && names[i] == after {
		i++
	}
	page := roomPage{Rooms: []roomView{}}
	hosts := s.hostIdentities()
	for ; i < len(names) && len(page.Rooms) < limit; i++ {
		page.Rooms = append(page.Rooms, s.roomView(names[i], hosts))
		page.Next = names[i]
	}
	page.More = i < len(names)
	writeJSON(w, "no-store", page)
}

// getRoom serves GET /rooms/{room}: 404 when the node has no such room open.
func (s *Server) getRoom(w http.ResponseWriter, r *http.Request) {
	room := roomParam(w, r)
	if room == "" {
		return
	}
	claims, err := s.authorizeRoomRead(r, room)
	if err != nil {
		writeError(w, err)
		return
	}
	var cluster any
	// Only for the platform (roomList): it names the nodes and their internal URLs, which
	// a room admin's token (a host's, in a browser) has no business reading.
	if s.cluster != nil && claims.RoomList {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		cluster = s.cluster(ctx, room)
		cancel()
	}
	if cluster == nil && !slices.Contains(s.roomNames(), room) {
		writeError(w, fmt.Errorf("%w: %q has no host, viewer or connection on this node", errRoomNotOpen, room))
		return
	}
	view := s.roomView(room, s.hostIdentities())
	view.Cluster = cluster
	writeJSON(w, "no-store", view)
}

// SetCluster makes GET /rooms/{room} show the room across the cluster: what view returns
// (nil when the cluster does not know the room, or on a node alone).
func (s *Server) SetCluster(view func(ctx context.Context, room string) any) { s.cluster = view }

// authorizeRoomRead accepts roomList, or roomAdmin for room.
func (s *Server) authorizeRoomRead(r *http.Request, room string) (*auth.Claims, error) {
	claims, err := s.verifier.RequestClaims(r)
	if err != nil {
		return nil, err
	}
	if claims.RoomList {
		return claims, nil
	}
	if err := claims.Allow(room, auth.PermAdmin); err != nil {
		return nil, fmt.Errorf("%w (or roomList)", err)
	}
	return claims, nil
}

// roomNames is every room open on this node, media or interaction, sorted.
func (s *Server) roomNames() []string {
	var names []string
	for _, info := range s.sfu.Rooms() {
		names = append(names, info.Name)
	}
	if s.hub != nil {
		names = append(names, s.hub.RoomNames()...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// roomView reads one room's state now; hosts is hostIdentities.
func (s *Server) roomView(name string, hosts map[string]string) roomView {
	v := roomView{Name: name, Host: "waiting"}
	if room := s.sfu.Room(name); room != nil {
		info, host := room.Info(), room.Host()
		v.Publishing, v.Viewers.WebRTC = info.Publishing, info.Viewers
		switch {
		case host.Live:
			v.Host = "live"
		case host.Reason != "":
			v.Host = host.Reason
		}
		if !host.Since.IsZero() {
			since := host.Since.UTC()
			v.HostSince = &since
		}
	}
	if s.hub != nil {
		v.Viewers.Interaction = s.hub.Members(name)
	}
	if s.hlsPlayers != nil {
		v.Viewers.LLHLS = s.hlsPlayers(name)
	}
	if md, ok := s.metadata.get(name); ok {
		v.Metadata = &md
	}
	v.Publisher = hosts[name]
	return v
}

// roomPageParams reads after (a room name, default "") and limit.
func roomPageParams(r *http.Request) (after string, limit int, err error) {
	after = r.URL.Query().Get("after")
	if after != "" && !roomname.Valid(after) {
		return "", 0, fmt.Errorf("%w: after must be a room name, got %q", errBadRequest, truncateParam(after))
	}
	limit, err = limitParam(r, defaultRoomPage, maxRoomPage)
	return after, limit, err
}

// limitParam reads the query's limit: def when absent, else an integer 1..most.
func limitParam(r *http.Request, def, most int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, fmt.Errorf("%w: limit must be an integer 1..%d, got %q", errBadRequest, most, truncateParam(v))
	}
	return n, nil
}

// roomParam is the request's {room}, or "" after answering 400 when it is no room name.
func roomParam(w http.ResponseWriter, r *http.Request) string {
	room := r.PathValue("room")
	if !roomname.Valid(room) {
		writeError(w, fmt.Errorf("%w: %w: %q", errBadRequest, roomname.ErrInvalid, truncateParam(room)))
		return ""
	}
	return room
}

// writeJSON answers v as JSON with the given Cache-Control.
func writeJSON(w http.ResponseWriter, cacheControl string, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", cacheControl)
	_ = json.NewEncoder(w).Encode(v)
}
