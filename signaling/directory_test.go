package signaling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

type directoryPage struct {
	Category string `json:"category"`
	Rooms    []struct {
		Room         string    `json:"room"`
		Title        string    `json:"title"`
		Category     string    `json:"category"`
		Tags         []string  `json:"tags"`
		ThumbnailURL string    `json:"thumbnailUrl"`
		Viewers      int       `json:"viewers"`
		LiveSince    time.Time `json:"liveSince"`
	} `json:"rooms"`
}

// TestDirectory: two live rooms with metadata in two categories are in the public
// directory (no token), filtered by category; a room with metadata whose host is not live,
// and a live room without metadata, are not. Metadata is set by the room's admin only,
// and every bad field is refused with a 400 that names it.
func TestDirectory(t *testing.T) {
	e := newEnv(t, nil)
	e.sig.EnableInteraction(newHub(t, bus.NewMemory()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, room := range []string{"jazz", "match", "plain"} {
		pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/"+room, e.token(room, auth.TokenOptions{Identity: "host", Publish: true}), nil))
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		if err := pub.SendFrames(ctx, 0, 5, 30, 30); err != nil {
			t.Fatal(err)
		}
	}
	put := func(room, token, body string, want int) string {
		t.Helper()
		res, got := e.do(http.MethodPut, "/rooms/"+room+"/metadata", token, "application/json", body)
		if res.StatusCode != want {
			t.Fatalf("PUT /rooms/%s/metadata %s: %d %s, want %d", room, body, res.StatusCode, got, want)
		}
		return got
	}
	admin := func(room string) string { return e.token(room, auth.TokenOptions{Identity: "backend", Admin: true}) }
	put("jazz", admin("jazz"), `{"title":"Late jazz","category":"Music","tags":["jazz","live"]}`, http.StatusOK)
	put("match", admin("match"), `{"title":"Cup final ⚽","category":"Sports","thumbnailUrl":"https://cdn.example/t.jpg"}`, http.StatusOK)
	put("later", admin("later"), `{"title":"Tomorrow","category":"Music"}`, http.StatusOK) // not open: allowed

	for _, c := range []struct{ name, body, says string }{
		{"a category not on the list", `{"title":"x","category":"music"}`, "category"},
		{"no title", `{"title":"","category":"Music"}`, "title"},
		{"a title too long", `{"title":"` + strings.Repeat("é", 141) + `","category":"Music"}`, "title"},
		{"a control character", `{"title":"a\u0007b","category":"Music"}`, "title"},
		{"eleven tags", `{"title":"x","category":"Music","tags":["1","2","3","4","5","6","7","8","9","10","11"]}`, "tags"},
		{"a tag with a space", `{"title":"x","category":"Music","tags":["two words"]}`, "tag"},
		{"a javascript: thumbnail", `{"title":"x","category":"Music","thumbnailUrl":"javascript:alert(1)"}`, "thumbnailUrl"},
		{"a thumbnail with credentials", `{"title":"x","category":"Music","thumbnailUrl":"https://u:p@cdn.example/t.jpg"}`, "thumbnailUrl"},
		{"an unknown field", `{"title":"x","category":"Music","owner":"me"}`, "owner"},
		{"not JSON", `title=x`, "JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := put("jazz", admin("jazz"), c.body, http.StatusBadRequest); !strings.Contains(got, c.says) {
				t.Errorf("400 %q does not mention %q", got, c.says)
			}
		})
	}
	put("jazz", admin("jazz"), `{"title":"`+strings.Repeat("x", 9000)+`","category":"Music"}`, http.StatusRequestEntityTooLarge)
	put("jazz", "", `{"title":"x","category":"Music"}`, http.StatusUnauthorized)
	put("jazz", e.token("jazz", auth.TokenOptions{Identity: "host", Publish: true}), `{"title":"x","category":"Music"}`, http.StatusForbidden)
	put("jazz", admin("match"), `{"title":"x","category":"Music"}`, http.StatusForbidden)

	dir := func(query string, want int) (directoryPage, *http.Response) {
		t.Helper()
		res, body := e.do(http.MethodGet, "/directory"+query, "", "", "")
		if res.StatusCode != want {
			t.Fatalf("GET /directory%s: %d %s, want %d", query, res.StatusCode, body, want)
		}
		var p directoryPage
		if want == http.StatusOK {
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatal(err)
			}
		}
		return p, res
	}
	all, res := dir("", http.StatusOK)
	if cc := res.Header.Get("Cache-Control"); !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=5") {
		t.Errorf("Cache-Control %q; want public, max-age=5", cc)
	}
	rooms := map[string]string{}
	for _, r := range all.Rooms {
		rooms[r.Room] = r.Category + "/" + r.Title
		if r.LiveSince.IsZero() {
			t.Errorf("%s has no liveSince", r.Room)
		}
	}
	if len(rooms) != 2 || rooms["jazz"] != "Music/Late jazz" || rooms["match"] != "Sports/Cup final ⚽" {
		t.Fatalf("directory %v; want jazz (Music) and match (Sports) only", rooms)
	}
	if music, _ := dir("?category=Music", http.StatusOK); len(music.Rooms) != 1 || music.Rooms[0].Room != "jazz" || len(music.Rooms[0].Tags) != 2 {
		t.Errorf("Music: %+v; want jazz with its two tags", music)
	}
	if sports, _ := dir("?category=Sports", http.StatusOK); len(sports.Rooms) != 1 || sports.Rooms[0].ThumbnailURL != "https://cdn.example/t.jpg" {
		t.Errorf("Sports: %+v; want match with its thumbnail", sports)
	}
	if none, _ := dir("?category=Juegos", http.StatusOK); len(none.Rooms) != 0 {
		t.Errorf("Juegos: %+v; want none", none)
	}
	dir("?category=Musik", http.StatusBadRequest)
	dir("?limit=0", http.StatusBadRequest)

	res, body := e.do(http.MethodGet, "/directory/categories", "", "", "")
	var cats struct{ Categories []string }
	if err := json.Unmarshal([]byte(body), &cats); err != nil || res.StatusCode != http.StatusOK || len(cats.Categories) != 22 || cats.Categories[8] != "Juegos" {
		t.Errorf("GET /directory/categories: %d %s", res.StatusCode, body)
	}

	var view roomView
	if err := json.Unmarshal([]byte(e.getBody(t, "/rooms/jazz", e.token("", auth.TokenOptions{Identity: "b", List: true}))), &view); err != nil {
		t.Fatal(err)
	}
	if view.Metadata == nil || view.Metadata.Title != "Late jazz" || view.Metadata.UpdatedAt.IsZero() {
		t.Errorf("GET /rooms/jazz: metadata %+v", view.Metadata)
	}
}

func (e *env) getBody(t *testing.T, path, token string) string {
	t.Helper()
	res, body := e.do(http.MethodGet, path, token, "", "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
	}
	return body
}
