package signaling_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

type roomView struct {
	Name       string     `json:"name"`
	Host       string     `json:"host"`
	HostSince  *time.Time `json:"hostSince"`
	Publisher  string     `json:"publisher"`
	Publishing bool       `json:"publishing"`
	Metadata   *struct {
		Title     string    `json:"title"`
		UpdatedAt time.Time `json:"updatedAt"`
	} `json:"metadata"`
	Viewers struct {
		WebRTC      int `json:"webrtc"`
		Interaction int `json:"interaction"`
	} `json:"viewers"`
}

type roomPage struct {
	Rooms []roomView `json:"rooms"`
	Next  string     `json:"next"`
	More  bool       `json:"more"`
}

// TestRoomAPIReads: a live room (a pion host over WHIP sending frames, a pion viewer over
// WHEP) and a chat-only room are listed, in name order and page by page, with what is
// happening in each, to a token with roomList; one room is read with roomList or that
// room's roomAdmin. Every other token, and bad parameters, get the exact status.
func TestRoomAPIReads(t *testing.T) {
	e := newEnv(t, nil)
	hub := newHub(t, bus.NewMemory())
	e.sig.EnableInteraction(hub)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/show", e.token("show", auth.TokenOptions{Identity: "host", Publish: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	viewer, err := sfutest.NewViewer(ctx, e.signal("/whep/show", e.token("show", auth.TokenOptions{Identity: "v1", Subscribe: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	if err := pub.SendFrames(ctx, 0, 30, 30, 30); err != nil {
		t.Fatal(err)
	}
	if err := viewer.WaitFrame(ctx, 20); err != nil {
		t.Fatal(err)
	}
	joinGiver(t, hub, "lobby", "bob")

	lister := e.token("", auth.TokenOptions{Identity: "backend", List: true})
	get := func(path, token string, want int) string {
		t.Helper()
		res, body := e.do(http.MethodGet, path, token, "", "")
		if res.StatusCode != want {
			t.Fatalf("GET %s: %d %s, want %d", path, res.StatusCode, body, want)
		}
		return body
	}
	page := func(path string) roomPage {
		t.Helper()
		var p roomPage
		if err := json.Unmarshal([]byte(get(path, lister, http.StatusOK)), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	all := page("/rooms")
	if len(all.Rooms) != 2 || all.More || all.Rooms[0].Name != "lobby" || all.Rooms[1].Name != "show" {
		t.Fatalf("GET /rooms: %+v; want lobby and show, in that order", all)
	}
	show, lobby := all.Rooms[1], all.Rooms[0]
	if show.Host != "live" || show.HostSince == nil || show.Publisher != "host" || !show.Publishing || show.Viewers.WebRTC != 1 {
		t.Errorf("show: %+v; want live since a time, published by host, one WebRTC viewer", show)
	}
	if lobby.Host != "waiting" || lobby.Publishing || lobby.Viewers.WebRTC != 0 || lobby.Viewers.Interaction != 1 {
		t.Errorf("lobby: %+v; want no host, one interaction connection", lobby)
	}
	first := page("/rooms?limit=1")
	if len(first.Rooms) != 1 || first.Rooms[0].Name != "lobby" || !first.More || first.Next != "lobby" {
		t.Fatalf("first page: %+v", first)
	}
	rest := page("/rooms?limit=1&after=" + first.Next)
	if len(rest.Rooms) != 1 || rest.Rooms[0].Name != "show" || rest.More {
		t.Fatalf("second page: %+v", rest)
	}
	if end := page("/rooms?after=show"); len(end.Rooms) != 0 || end.More {
		t.Fatalf("past the end: %+v", end)
	}

	var one roomView
	if err := json.Unmarshal([]byte(get("/rooms/show", e.token("show", auth.TokenOptions{Identity: "mod", Admin: true}), http.StatusOK)), &one); err != nil {
		t.Fatal(err)
	}
	if one.Name != "show" || one.Host != "live" || one.Publisher != "host" {
		t.Errorf("GET /rooms/show as its admin: %+v", one)
	}
	get("/rooms/show", lister, http.StatusOK)

	expired := expiredListToken(t)
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{"list without a token", "/rooms", "", http.StatusUnauthorized},
		{"list with a bad token", "/rooms", "not-a-token", http.StatusUnauthorized},
		{"list with an expired token", "/rooms", expired, http.StatusUnauthorized},
		{"list as a room's admin", "/rooms", e.token("show", auth.TokenOptions{Identity: "mod", Admin: true}), http.StatusForbidden},
		{"list as a viewer", "/rooms", e.token("show", auth.TokenOptions{Identity: "v", Subscribe: true}), http.StatusForbidden},
		{"read without a token", "/rooms/show", "", http.StatusUnauthorized},
		{"read as another room's admin", "/rooms/show", e.token("other", auth.TokenOptions{Identity: "mod", Admin: true}), http.StatusForbidden},
		{"read as a viewer", "/rooms/show", e.token("show", auth.TokenOptions{Identity: "v", Subscribe: true}), http.StatusForbidden},
		{"read a room not open", "/rooms/nosuch", lister, http.StatusNotFound},
		{"read a bad room name", "/rooms/no%20such", lister, http.StatusBadRequest},
		{"limit 0", "/rooms?limit=0", lister, http.StatusBadRequest},
		{"limit too large", "/rooms?limit=1001", lister, http.StatusBadRequest},
		{"limit not a number", "/rooms?limit=ten", lister, http.StatusBadRequest},
		{"after not a room name", "/rooms?after=a%2Fb", lister, http.StatusBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) { get(c.path, c.token, c.want) })
	}
}

// expiredListToken is a roomList token that expired an hour ago, signed by hand: minters
// will not make one.
func expiredListToken(t *testing.T) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	past := time.Now().Add(-time.Hour)
	unsigned := enc(map[string]string{"alg": "HS256", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": testKey, "sub": "old", "iat": past.Add(-time.Hour).Unix(), "nbf": past.Add(-time.Hour).Unix(), "exp": past.Unix(),
		"video": map[string]any{"roomList": true},
	})
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
