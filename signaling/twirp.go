package signaling

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/glintlive/glint/signaling/auth"
)

// The room API also answers as LiveKit's RoomService (Twirp, JSON or protobuf, at
// /twirp/livekit.RoomService/), so a LiveKit server SDK pointed at Glint lists rooms and
// participants, removes a participant, ends a room and sets its metadata unchanged, with
// the grants LiveKit asks: roomList to list rooms, roomCreate (or roomAdmin of the room)
// to delete one, roomAdmin of the room for the rest. What Glint has no counterpart for
// (creating a room ahead of time, muting or updating a participant, data packets,
// subscriptions, forwarding, moving, RPC) answers Twirp's unimplemented. docs/API.md
// says what maps to what.

// requestKey carries the HTTP request into the Twirp methods, for its token.
type requestKey struct{}

// roomService is the room API as livekit.RoomService.
type roomService struct{ s *Server }

var _ livekit.RoomService = roomService{}

// twirpHandler serves /twirp/livekit.RoomService/.
func (s *Server) twirpHandler() http.HandlerFunc {
	h := livekit.NewRoomServiceServer(roomService{s})
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxMetadataBody)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, r)))
	}
}

// claims are the calling request's token's claims.
func (rs roomService) claims(ctx context.Context) (*auth.Claims, error) {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	if r == nil {
		return nil, twirp.Internal.Error("no request")
	}
	c, err := rs.s.verifier.RequestClaims(r)
	if err != nil {
		return nil, twirpError(err)
	}
	return c, nil
}

// admin checks the caller is roomAdmin of room, and that room is open on this node.
func (rs roomService) admin(ctx context.Context, room string) error {
	c, err := rs.claims(ctx)
	if err != nil {
		return err
	}
	if err := c.Allow(room, auth.PermAdmin); err != nil {
		return twirpError(err)
	}
	return rs.open(room)
}

func (rs roomService) open(room string) error {
	if !slices.Contains(rs.s.roomNames(), room) {
		return twirp.NotFoundError(fmt.Sprintf("%q has no host, viewer or connection on this node", room))
	}
	return nil
}

func (rs roomService) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	c, err := rs.claims(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.AllowList(); err != nil {
		return nil, twirpError(err)
	}
	out := &livekit.ListRoomsResponse{}
	hosts := rs.s.hostIdentities()
	for _, name := range rs.s.roomNames() {
		if len(req.GetNames()) == 0 || slices.Contains(req.GetNames(), name) {
			out.Rooms = append(out.Rooms, lkRoom(rs.s.roomView(name, hosts)))
		}
	}
	return out, nil
}

func (rs roomService) DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	c, err := rs.claims(ctx)
	if err != nil {
		return nil, err
	}
	if !c.RoomCreate {
		if err := c.Allow(req.GetRoom(), auth.PermAdmin); err != nil {
			return nil, twirpError(fmt.Errorf("%w (or roomCreate)", err))
		}
	}
	if err := rs.open(req.GetRoom()); err != nil {
		return nil, err
	}
	rs.s.endRoomNow(req.GetRoom())
	return &livekit.DeleteRoomResponse{}, nil
}

func (rs roomService) ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	if err := rs.admin(ctx, req.GetRoom()); err != nil {
		return nil, err
	}
	out := &livekit.ListParticipantsResponse{}
	for _, p := range rs.s.participants(req.GetRoom()) {
		if p.Identity != "" { // anonymous viewers have no identity to list them by
			out.Participants = append(out.Participants, lkParticipant(req.GetRoom(), p))
		}
	}
	return out, nil
}

func (rs roomService) GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	if err := rs.admin(ctx, req.GetRoom()); err != nil {
		return nil, err
	}
	for _, p := range rs.s.participants(req.GetRoom()) {
		if p.Identity != "" && p.Identity == req.GetIdentity() {
			return lkParticipant(req.GetRoom(), p), nil
		}
	}
	return nil, twirp.NotFoundError(fmt.Sprintf("%q is not in room %q", truncateParam(req.GetIdentity()), req.GetRoom()))
}

func (rs roomService) RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	if err := rs.admin(ctx, req.GetRoom()); err != nil {
		return nil, err
	}
	if req.GetIdentity() == "" || rs.s.removeIdentity(req.GetRoom(), req.GetIdentity()) == 0 {
		return nil, twirp.NotFoundError(fmt.Sprintf("%q has no session or connection in room %q", truncateParam(req.GetIdentity()), req.GetRoom()))
	}
	return &livekit.RemoveParticipantResponse{}, nil
}

// UpdateRoomMetadata takes Glint's room metadata as its JSON (title, category, tags,
// thumbnailUrl: PUT /rooms/{room}/metadata's body); LiveKit's is any string, Glint's
// feeds the directory and must be that.
func (rs roomService) UpdateRoomMetadata(ctx context.Context, req *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	if err := rs.admin(ctx, req.GetRoom()); err != nil {
		return nil, err
	}
	if _, err := rs.s.setMetadata(req.GetRoom(), []byte(req.GetMetadata())); err != nil {
		return nil, twirpError(err)
	}
	return lkRoom(rs.s.roomView(req.GetRoom(), rs.s.hostIdentities())), nil
}

// unimplemented is what a RoomService method Glint has no counterpart for answers.
func unimplemented(what string) error {
	return twirp.NewError(twirp.Unimplemented, what+" is not supported by Glint (docs/API.md)")
}

func (roomService) CreateRoom(context.Context, *livekit.CreateRoomRequest) (*livekit.Room, error) {
	return nil, unimplemented("CreateRoom (a room opens when its host publishes)")
}

func (roomService) MutePublishedTrack(context.Context, *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	return nil, unimplemented("MutePublishedTrack")
}

func (roomService) UpdateParticipant(context.Context, *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	return nil, unimplemented("UpdateParticipant")
}

func (roomService) UpdateSubscriptions(context.Context, *livekit.UpdateSubscriptionsRequest) (*livekit.UpdateSubscriptionsResponse, error) {
	return nil, unimplemented("UpdateSubscriptions")
}

func (roomService) SendData(context.Context, *livekit.SendDataRequest) (*livekit.SendDataResponse, error) {
	return nil, unimplemented("SendData (use the interaction protocol: docs/PROTOCOL.md)")
}

func (roomService) ForwardParticipant(context.Context, *livekit.ForwardParticipantRequest) (*livekit.ForwardParticipantResponse, error) {
	return nil, unimplemented("ForwardParticipant")
}

func (roomService) MoveParticipant(context.Context, *livekit.MoveParticipantRequest) (*livekit.MoveParticipantResponse, error) {
	return nil, unimplemented("MoveParticipant")
}

func (roomService) PerformRpc(context.Context, *livekit.PerformRpcRequest) (*livekit.PerformRpcResponse, error) {
	return nil, unimplemented("PerformRpc")
}

// lkRoom is a room as LiveKit describes one: its sid as in the webhooks (roomSid), its
// participants the WebRTC viewers and the host, its metadata Glint's as JSON.
func lkRoom(v roomView) *livekit.Room {
	room := &livekit.Room{Sid: roomSid(v.Name), Name: v.Name, NumParticipants: uint32(v.Viewers.WebRTC)}
	if v.Publishing {
		room.NumPublishers = 1
		room.NumParticipants++
	}
	if v.HostSince != nil {
		room.CreationTime, room.CreationTimeMs = v.HostSince.Unix(), v.HostSince.UnixMilli()
	}
	if v.Metadata != nil {
		b, _ := json.Marshal(v.Metadata)
		room.Metadata = string(b)
	}
	return room
}

// lkParticipant is an identity's presence in room as LiveKit's ParticipantInfo: a
// publisher when it has a WHIP session or an RTMP stream, joined when its first session
// was, and named by that session's sid, as the webhooks name it (an identity with only
// chat connections by a hash of the room and the identity).
func lkParticipant(room string, p participantView) *livekit.ParticipantInfo {
	info := &livekit.ParticipantInfo{Sid: "PA_" + shortHash(room+"\x00"+p.Identity), Identity: p.Identity,
		State: livekit.ParticipantInfo_ACTIVE, Kind: livekit.ParticipantInfo_STANDARD}
	for i, sess := range p.Sessions { // oldest first
		if sess.Kind == "whip" || sess.Kind == "rtmp" {
			info.IsPublisher = true
		}
		if i == 0 {
			info.Sid, info.JoinedAt, info.JoinedAtMs = sess.Sid, sess.Since.Unix(), sess.Since.UnixMilli()
		}
	}
	return info
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// twirpError maps an error of the HTTP room API to Twirp's code for the same status.
func twirpError(err error) error {
	msg := err.Error()
	switch statusOf(err) {
	case http.StatusUnauthorized:
		return twirp.NewError(twirp.Unauthenticated, msg)
	case http.StatusForbidden:
		return twirp.NewError(twirp.PermissionDenied, msg)
	case http.StatusNotFound:
		return twirp.NewError(twirp.NotFound, msg)
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return twirp.NewError(twirp.InvalidArgument, msg)
	case http.StatusConflict:
		return twirp.NewError(twirp.FailedPrecondition, msg)
	case http.StatusTooManyRequests:
		return twirp.NewError(twirp.ResourceExhausted, msg)
	case http.StatusServiceUnavailable:
		return twirp.NewError(twirp.Unavailable, msg)
	}
	if errors.Is(err, context.Canceled) {
		return twirp.NewError(twirp.Canceled, msg)
	}
	return twirp.InternalError("internal error")
}
