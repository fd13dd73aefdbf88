package signaling

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/ingest/rtmp"
	"github.com/glintlive/glint/signaling/auth"
)

// The room API's acting half, all with roomAdmin for the room (LiveKit's RoomService asks
// the same): GET /rooms/{room}/participants lists who is in a room, DELETE
// /rooms/{room}/participants/{identity} disconnects one of them, DELETE /rooms/{room}
// ends the room. A disconnected client's token still works, so it may come back, as in
// LiveKit; to keep someone out, stop minting their tokens and let them expire.

// participantView is one identity's presence in a room.
type participantView struct {
	Identity string `json:"identity"` // "" gathers the anonymous viewers
	// Sessions are its media sessions: "whip" or "rtmp" (host), "whep" (viewer), oldest
	// first.
	Sessions []sessionView `json:"sessions"`
	// Interaction counts its chat and event connections (WebSockets and data channels).
	Interaction int `json:"interaction"`
}

type sessionView struct {
	Kind  string    `json:"kind"`
	Since time.Time `json:"since"`
	Sid   string    `json:"sid"` // as the room webhooks' participant events name it
}

// participantList is the answer of GET /rooms/{room}/participants.
type participantList struct {
	Room         string            `json:"room"`
	Participants []participantView `json:"participants"`
}

// maxParticipantList bounds the answer: a room of 100,000 viewers is not a list anyone
// reads; the counts of GET /rooms/{room} say how many there are.
const maxParticipantList = 10_000

// adminRoom checks the request's room name and roomAdmin grant for it.
func (s *Server) adminRoom(w http.ResponseWriter, r *http.Request) (string, bool) {
	room := roomParam(w, r)
	if room == "" {
		return "", false
	}
	if _, err := s.verifier.Authorize(r, room, false, auth.PermAdmin); err != nil {
		writeError(w, err)
		return "", false
	}
	if !slices.Contains(s.roomNames(), room) {
		writeError(w, fmt.Errorf("%w: %q has no host, viewer or connection on this node", errRoomNotOpen, room))
		return "", false
	}
	return room, true
}

// listParticipants serves GET /rooms/{room}/participants, by identity in name order.
func (s *Server) listParticipants(w http.ResponseWriter, r *http.Request) {
	room, ok := s.adminRoom(w, r)
	if !ok {
		return
	}
	writeJSON(w, "no-store", participantList{Room: room, Participants: s.participants(room)})
}

// participants is who is in room on this node, by identity in name order (at most
// maxParticipantList).
func (s *Server) participants(room string) []participantView {
	by := map[string]*participantView{}
	at := func(identity string) *participantView {
		p := by[identity]
		if p == nil {
			p = &participantView{Identity: identity, Sessions: []sessionView{}}
			by[identity] = p
		}
		return p
	}
	for _, res := range s.roomResources(room) {
		p := at(res.identity)
		p.Sessions = append(p.Sessions, sessionView{Kind: res.kind, Since: res.created.UTC(), Sid: res.sid()})
	}
	for _, h := range s.rtmpHosts(room) {
		p := at(h.Identity)
		p.Sessions = append(p.Sessions, sessionView{Kind: "rtmp", Since: h.Since, Sid: rtmpSid(h)})
	}
	if s.hub != nil {
		for _, c := range s.hub.Connections(room) {
			at(c.Identity).Interaction++
		}
	}
	list := make([]participantView, 0, len(by))
	for _, p := range by {
		slices.SortFunc(p.Sessions, func(a, b sessionView) int { return a.Since.Compare(b.Since) })
		list = append(list, *p)
	}
	slices.SortFunc(list, func(a, b participantView) int { return strings.Compare(a.Identity, b.Identity) })
	if len(list) > maxParticipantList {
		list = list[:maxParticipantList]
	}
	return list
}

// removeParticipant serves DELETE /rooms/{room}/participants/{identity}: every WebRTC
// session, RTMP stream and interaction connection of identity in the room is closed. 404
// when it has none.
func (s *Server) removeParticipant(w http.ResponseWriter, r *http.Request) {
	room, ok := s.adminRoom(w, r)
	if !ok {
		return
	}
	identity := r.PathValue("identity")
	if identity == "" || len(identity) > 256 {
		writeError(w, fmt.Errorf("%w: an identity is 1..256 bytes", errBadRequest))
		return
	}
	closed := s.removeIdentity(room, identity)
	if closed == 0 {
		writeError(w, fmt.Errorf("%w: %q has no session or connection in room %q", errNoSession, truncateParam(identity), room))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// removeIdentity closes every WebRTC session and interaction connection identity has in
// room, and says how many.
func (s *Server) removeIdentity(room, identity string) int {
	closed := 0
	for _, res := range s.roomResources(room) {
		if res.tokenRequired && res.identity == identity {
			res.end("the room API (participant removed)")
			closed++
		}
	}
	if s.rtmp != nil {
		closed += s.rtmp.End(room, identity)
	}
	if s.hub != nil {
		closed += s.hub.Disconnect(room, identity, false)
	}
	if closed > 0 {
		s.log.Info("participant removed by the room API", zap.String("room", room), zap.String("identity", identity), zap.Int("closed", closed))
	}
	return closed
}

// endRoomNotice is how long DELETE /rooms/{room} waits between ending the host's session
// and closing everyone's connections: the interaction layer looks at the host's state
// every 50 ms, and a viewer told room.ended shows "the stream has ended" rather than an
// error when its connection then closes. Best effort: a connection that is slow to drain
// may close first.
const endRoomNotice = 200 * time.Millisecond

// endRoom serves DELETE /rooms/{room}: the host's session (WHIP or RTMP) ends, and every
// viewer session and interaction connection is closed.
func (s *Server) endRoom(w http.ResponseWriter, r *http.Request) {
	room, ok := s.adminRoom(w, r)
	if !ok {
		return
	}
	s.endRoomNow(room)
	w.WriteHeader(http.StatusNoContent)
}

// endRoomNow ends room's host session (WHIP or RTMP) and closes every viewer session and
// interaction connection.
func (s *Server) endRoomNow(room string) {
	by := "the room API (room ended)"
	for _, res := range s.roomResources(room) {
		res.endedBy.CompareAndSwap(nil, &by) // the host's, ended next, included
	}
	host := false
	if sr := s.sfu.Room(room); sr != nil {
		host = sr.EndHost()
	}
	if host && s.hub != nil {
		time.Sleep(endRoomNotice)
	}
	closed := 0
	for _, res := range s.roomResources(room) {
		res.end(by)
		closed++
	}
	if s.hub != nil {
		closed += s.hub.Disconnect(room, "", true)
	}
	s.log.Info("room ended by the room API", zap.String("room", room), zap.Bool("host", host), zap.Int("closed", closed))
}

// roomResources is a copy of the room's WebRTC sessions.
func (s *Server) roomResources(room string) []*resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*resource
	for _, res := range s.resources {
		if res.room == room {
			out = append(out, res)
		}
	}
	return out
}

// RTMPHosts is what the room API needs of RTMP ingest (ingest/rtmp.Server): the hosts
// publishing, and ending one.
type RTMPHosts interface {
	Hosts() []rtmp.Host
	End(room, identity string) int
}

// SetRTMP makes the room API list RTMP hosts among their rooms' participants, end them
// with DELETE /rooms/{room}/participants/{identity}, and name them as their rooms' hosts.
func (s *Server) SetRTMP(r RTMPHosts) { s.rtmp = r }

// rtmpHosts are room's RTMP hosts.
func (s *Server) rtmpHosts(room string) []rtmp.Host {
	if s.rtmp == nil {
		return nil
	}
	var out []rtmp.Host
	for _, h := range s.rtmp.Hosts() {
		if h.Room == room {
			out = append(out, h)
		}
	}
	return out
}

// RTMPHost raises participant_joined or participant_left for an RTMP host
// (rtmp.Options.OnHost).
func (s *Server) RTMPHost(joined bool, h rtmp.Host) {
	s.webhook.Load().participantEvent(joined, h.Room, h.Identity, rtmpSid(h), h.Since, true)
}

// rtmpSid is an RTMP host session's participant sid: its own, so that a reconnecting
// encoder's old session leaving is not taken for the new one.
func rtmpSid(h rtmp.Host) string {
	return "PA_" + shortHash(fmt.Sprintf("%s\x00%s\x00%d", h.Room, h.Identity, h.Since.UnixNano()))
}
