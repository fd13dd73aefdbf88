package signaling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

type participantList struct {
	Room         string `json:"room"`
	Participants []struct {
		Identity string `json:"identity"`
		Sessions []struct {
			Kind  string    `json:"kind"`
			Since time.Time `json:"since"`
		} `json:"sessions"`
		Interaction int `json:"interaction"`
	} `json:"participants"`
}

// TestRoomAPIParticipantsAndEnd: a room's admin lists who is in it (a pion host over WHIP,
// two pion viewers over WHEP, interaction connections), disconnects one viewer (its WebRTC
// session and its interaction connection close, the others stay), then ends the room: the
// host's session, every viewer's and every connection close, and the host shows as
// stopped. Other tokens get the exact status.
func TestRoomAPIParticipantsAndEnd(t *testing.T) {
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
	for _, id := range []string{"v1", "v2"} {
		v, err := sfutest.NewViewer(ctx, e.signal("/whep/show", e.token("show", auth.TokenOptions{Identity: id, Subscribe: true}), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
	}
	if err := pub.SendFrames(ctx, 0, 10, 30, 30); err != nil {
		t.Fatal(err)
	}
	joinGiver(t, hub, "show", "v1")
	joinGiver(t, hub, "show", "bob")

	admin := e.token("show", auth.TokenOptions{Identity: "mod", Admin: true})
	call := func(method, path, token string, want int) string {
		t.Helper()
		res, body := e.do(method, path, token, "", "")
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, body, want)
		}
		return body
	}
	participants := func() participantList {
		t.Helper()
		var l participantList
		if err := json.Unmarshal([]byte(call(http.MethodGet, "/rooms/show/participants", admin, http.StatusOK)), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	summary := func(l participantList) map[string]string {
		m := map[string]string{}
		for _, p := range l.Participants {
			s := ""
			for _, sess := range p.Sessions {
				s += sess.Kind + " "
				if sess.Since.IsZero() {
					t.Errorf("%s's %s session has no start time", p.Identity, sess.Kind)
				}
			}
			m[p.Identity] = s + "ws" + string(rune('0'+p.Interaction))
		}
		return m
	}
	got := summary(participants())
	want := map[string]string{"bob": "ws1", "host": "whip ws0", "v1": "whep ws1", "v2": "whep ws0"}
	if len(got) != len(want) || got["bob"] != want["bob"] || got["host"] != want["host"] || got["v1"] != want["v1"] || got["v2"] != want["v2"] {
		t.Fatalf("participants %v, want %v", got, want)
	}

	for _, c := range []struct {
		name, method, path, token string
		want                      int
	}{
		{"list without a token", http.MethodGet, "/rooms/show/participants", "", http.StatusUnauthorized},
		{"list as a viewer", http.MethodGet, "/rooms/show/participants", e.token("show", auth.TokenOptions{Identity: "v1", Subscribe: true}), http.StatusForbidden},
		{"list as another room's admin", http.MethodGet, "/rooms/show/participants", e.token("other", auth.TokenOptions{Identity: "mod", Admin: true}), http.StatusForbidden},
		{"list with roomList only", http.MethodGet, "/rooms/show/participants", e.token("", auth.TokenOptions{Identity: "b", List: true}), http.StatusForbidden},
		{"remove as a viewer", http.MethodDelete, "/rooms/show/participants/v2", e.token("show", auth.TokenOptions{Identity: "v1", Subscribe: true, Data: true}), http.StatusForbidden},
		{"end as the host", http.MethodDelete, "/rooms/show", e.token("show", auth.TokenOptions{Identity: "host", Publish: true}), http.StatusForbidden},
		{"end without a token", http.MethodDelete, "/rooms/show", "", http.StatusUnauthorized},
		{"remove someone absent", http.MethodDelete, "/rooms/show/participants/nobody", admin, http.StatusNotFound},
		{"list a room not open", http.MethodGet, "/rooms/nosuch/participants", e.token("nosuch", auth.TokenOptions{Identity: "mod", Admin: true}), http.StatusNotFound},
		{"end a room not open", http.MethodDelete, "/rooms/nosuch", e.token("nosuch", auth.TokenOptions{Identity: "mod", Admin: true}), http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) { call(c.method, c.path, c.token, c.want) })
	}

	call(http.MethodDelete, "/rooms/show/participants/v1", admin, http.StatusNoContent)
	waitUntil(t, "v1's session and connection to close", func() bool {
		got := summary(participants())
		_, v1 := got["v1"]
		return !v1 && e.sig.Sessions() == 2 && hub.Members("show") == 1
	})
	if got := summary(participants()); got["v2"] != "whep ws0" || got["host"] != "whip ws0" || got["bob"] != "ws1" {
		t.Fatalf("after removing v1: %v; want the others untouched", got)
	}

	call(http.MethodDelete, "/rooms/show", admin, http.StatusNoContent)
	waitUntil(t, "every session and connection to close", func() bool {
		return e.sig.Sessions() == 0 && hub.Members("show") == 0
	})
	if room := e.sfu.Room("show"); room != nil && room.Host().Live {
		t.Error("the host is still live after the room was ended")
	}
}

// waitUntil polls cond every 20 ms for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
