package signaling_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

type giftPage struct {
	Room  string `json:"room"`
	Gifts []struct {
		Seq      uint64 `json:"seq"`
		EventID  string `json:"eventId"`
		Key      string `json:"key"`
		From     string `json:"from"`
		Amount   int64  `json:"amount"`
		Currency string `json:"currency"`
	} `json:"gifts"`
	Next uint64 `json:"next"`
	More bool   `json:"more"`
}

// TestGiftLogEndpoint: a backend with a roomAdmin token pages through a room's gifts;
// anyone else is refused, and bad parameters get a 400 that says what is wrong.
func TestGiftLogEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	hub := newHub(t, bus.NewMemory())
	e.sig.EnableInteraction(hub)
	alice := joinGiver(t, hub, "show", "alice")
	for i := 1; i <= 3; i++ {
		alice.give(fmt.Sprint("k", i), int64(100*i))
	}
	joinGiver(t, hub, "other", "bob").give("b1", 1)

	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	admin := e.token("show", auth.TokenOptions{Identity: "backend", Admin: true})
	for _, c := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"bad token", "not-a-token", http.StatusUnauthorized},
		{"viewer", e.token("show", auth.TokenOptions{Identity: "v", Subscribe: true}), http.StatusForbidden},
		{"sender", e.token("show", auth.TokenOptions{Identity: "alice", Subscribe: true, Data: true, Publish: true}), http.StatusForbidden},
		{"admin of another room", e.token("other", auth.TokenOptions{Identity: "backend", Admin: true}), http.StatusForbidden},
	} {
		if code, body := get("/rooms/show/gifts", c.token); code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
	}

	page := func(path string) giftPage {
		t.Helper()
		code, body := get(path, admin)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		var p giftPage
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := page("/rooms/show/gifts?limit=2")
	if first.Room != "show" || len(first.Gifts) != 2 || !first.More || first.Next != first.Gifts[1].Seq ||
		first.Gifts[0].Key != "k1" || first.Gifts[1].Amount != 200 || first.Gifts[0].From != "alice" ||
		first.Gifts[0].EventID != signaling.GiftEventID("show", "alice", "k1") {
		t.Fatalf("first page %+v", first)
	}
	rest := page(fmt.Sprint("/rooms/show/gifts?after=", first.Next))
	if len(rest.Gifts) != 1 || rest.More || rest.Gifts[0].Key != "k3" || rest.Next != rest.Gifts[0].Seq {
		t.Fatalf("second page %+v", rest)
	}
	if end := page(fmt.Sprint("/rooms/show/gifts?after=", rest.Next)); len(end.Gifts) != 0 || end.More || end.Next != rest.Next {
		t.Fatalf("past the end %+v", end)
	}
	if all := page("/rooms/show/gifts"); len(all.Gifts) != 3 {
		t.Fatalf("default page %+v", all)
	}

	for _, c := range []struct{ query, says string }{
		{"after=-1", "after must be"},
		{"after=x", "after must be"},
		{"after=99999999999999999999", "after must be"},
		{"limit=0", "limit must be an integer 1..1000"},
		{"limit=1001", "limit must be an integer 1..1000"},
		{"limit=ten", "limit must be an integer 1..1000"},
	} {
		code, body := get("/rooms/show/gifts?"+c.query, admin)
		if code != http.StatusBadRequest || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %q, want 400 saying %q", c.query, code, body, c.says)
		}
	}
	if code, body := get("/rooms/"+strings.Repeat("x", 65)+"/gifts", admin); code != http.StatusBadRequest {
		t.Errorf("a bad room name: %d %s", code, body)
	}
}
