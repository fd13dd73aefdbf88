package signaling_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestTwirpRoomService: LiveKit's own RoomService clients (protobuf and JSON, what the
// LiveKit server SDKs wrap) list a live room and its participants, read and remove one,
// set the room's metadata and delete the room, each with the grant LiveKit asks for;
// without it, or for what Glint does not do, they get Twirp's error codes.
func TestTwirpRoomService(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/show", e.token("show", auth.TokenOptions{Identity: "host", Publish: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	go func() { _ = pub.SendFrames(ctx, 0, 30*40, 30, 30) }()
	viewer, err := sfutest.NewViewer(ctx, e.signal("/whep/show", e.token("show", auth.TokenOptions{Identity: "viewer1", Subscribe: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	if err := viewer.WaitFrame(ctx, 5); err != nil {
		t.Fatal(err)
	}

	clients := map[string]livekit.RoomService{
		"protobuf": livekit.NewRoomServiceProtobufClient(e.srv.URL, http.DefaultClient),
		"json":     livekit.NewRoomServiceJSONClient(e.srv.URL, http.DefaultClient),
	}
	with := func(token string) context.Context {
		h := http.Header{}
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		c, err := twirp.WithHTTPRequestHeaders(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	code := func(err error) twirp.ErrorCode {
		var te twirp.Error
		if errors.As(err, &te) {
			return te.Code()
		}
		return ""
	}
	list := e.token("", auth.TokenOptions{Identity: "platform", List: true})
	admin := e.token("show", auth.TokenOptions{Identity: "backend", Admin: true})
	for name, rs := range clients {
		rooms, err := rs.ListRooms(with(list), &livekit.ListRoomsRequest{})
		if err != nil || len(rooms.Rooms) != 1 {
			t.Fatalf("%s ListRooms: %v, %v", name, rooms, err)
		}
		r := rooms.Rooms[0]
		if r.Name != "show" || !strings.HasPrefix(r.Sid, "RM_") || r.NumPublishers != 1 || r.NumParticipants != 2 || r.CreationTime == 0 {
			t.Fatalf("%s ListRooms: %+v; want show, one publisher, two participants", name, r)
		}
		if rooms, err := rs.ListRooms(with(list), &livekit.ListRoomsRequest{Names: []string{"other"}}); err != nil || len(rooms.Rooms) != 0 {
			t.Fatalf("%s ListRooms of another name: %v, %v", name, rooms, err)
		}
		for _, c := range []struct {
			token string
			want  twirp.ErrorCode
		}{{"", twirp.Unauthenticated}, {"not-a-token", twirp.Unauthenticated}, {admin, twirp.PermissionDenied}} {
			if _, err := rs.ListRooms(with(c.token), &livekit.ListRoomsRequest{}); code(err) != c.want {
				t.Errorf("%s ListRooms with %.10q: %v; want %s", name, c.token, err, c.want)
			}
		}
	}
	rs := clients["protobuf"]
	parts, err := rs.ListParticipants(with(admin), &livekit.ListParticipantsRequest{Room: "show"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range parts.Participants {
		ids = append(ids, p.Identity)
		if (p.Identity == "host") != p.IsPublisher || p.JoinedAt == 0 || !strings.HasPrefix(p.Sid, "PA_") || p.State != livekit.ParticipantInfo_ACTIVE {
			t.Errorf("participant %+v", p)
		}
	}
	if !slices.Equal(ids, []string{"host", "viewer1"}) {
		t.Fatalf("participants %v; want host and viewer1", ids)
	}
	if _, err := rs.ListParticipants(with(e.token("other", auth.TokenOptions{Identity: "x", Admin: true})), &livekit.ListParticipantsRequest{Room: "show"}); code(err) != twirp.PermissionDenied {
		t.Fatalf("ListParticipants with another room's admin: %v", err)
	}
	if _, err := rs.ListParticipants(with(e.token("closed", auth.TokenOptions{Identity: "x", Admin: true})), &livekit.ListParticipantsRequest{Room: "closed"}); code(err) != twirp.NotFound {
		t.Fatalf("ListParticipants of a room not open: %v", err)
	}
	if p, err := rs.GetParticipant(with(admin), &livekit.RoomParticipantIdentity{Room: "show", Identity: "viewer1"}); err != nil || p.Identity != "viewer1" || p.IsPublisher {
		t.Fatalf("GetParticipant: %v, %v", p, err)
	}
	if _, err := rs.GetParticipant(with(admin), &livekit.RoomParticipantIdentity{Room: "show", Identity: "nobody"}); code(err) != twirp.NotFound {
		t.Fatalf("GetParticipant of nobody: %v", err)
	}

	room, err := rs.UpdateRoomMetadata(with(admin), &livekit.UpdateRoomMetadataRequest{Room: "show", Metadata: `{"title":"Vinyl night","category":"Music","tags":["jazz"]}`})
	if err != nil || !strings.Contains(room.Metadata, `"category":"Music"`) {
		t.Fatalf("UpdateRoomMetadata: %v, %v", room, err)
	}
	if _, err := rs.UpdateRoomMetadata(with(admin), &livekit.UpdateRoomMetadataRequest{Room: "show", Metadata: "free text"}); code(err) != twirp.InvalidArgument {
		t.Fatalf("UpdateRoomMetadata with metadata that is not Glint's: %v", err)
	}
	if _, err := rs.CreateRoom(with(admin), &livekit.CreateRoomRequest{Name: "show"}); code(err) != twirp.Unimplemented {
		t.Fatalf("CreateRoom: %v; want unimplemented", err)
	}

	if _, err := rs.RemoveParticipant(with(admin), &livekit.RoomParticipantIdentity{Room: "show", Identity: "viewer1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.GetParticipant(with(admin), &livekit.RoomParticipantIdentity{Room: "show", Identity: "viewer1"}); code(err) != twirp.NotFound {
		t.Fatalf("the removed viewer is still in the room: %v", err)
	}
	if _, err := rs.DeleteRoom(with(e.token("show", auth.TokenOptions{Identity: "v", Subscribe: true})), &livekit.DeleteRoomRequest{Room: "show"}); code(err) != twirp.PermissionDenied {
		t.Fatalf("DeleteRoom by a viewer: %v", err)
	}
	creator := e.token("", auth.TokenOptions{Identity: "platform", Create: true})
	// roomCreate deletes rooms, and nothing else.
	if _, err := rs.ListParticipants(with(creator), &livekit.ListParticipantsRequest{Room: "show"}); code(err) != twirp.PermissionDenied {
		t.Fatalf("ListParticipants with roomCreate alone: %v", err)
	}
	if _, err := rs.ListRooms(with(creator), &livekit.ListRoomsRequest{}); code(err) != twirp.PermissionDenied {
		t.Fatalf("ListRooms with roomCreate alone: %v", err)
	}
	if _, err := rs.DeleteRoom(with(creator), &livekit.DeleteRoomRequest{Room: "show"}); err != nil {
		t.Fatalf("DeleteRoom with roomCreate: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rooms, err := rs.ListRooms(with(list), &livekit.ListRoomsRequest{})
		if err == nil && (len(rooms.Rooms) == 0 || rooms.Rooms[0].NumPublishers == 0) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the deleted room still has its host: %v, %v", rooms, err)
		}
	}
}
