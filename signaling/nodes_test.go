package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/signaling/auth"
)

// TestListNodes: GET /nodes lists the cluster's nodes as clients reach them, in the order
// given (this node first), with a short public cache time; none on a node alone; 503 when
// the node directory cannot be read.
func TestListNodes(t *testing.T) {
	e := newEnv(t, nil)
	get := func(want int) []string {
		t.Helper()
		res, body := e.do(http.MethodGet, "/nodes", "", "", "")
		if res.StatusCode != want {
			t.Fatalf("GET /nodes: %d %s, want %d", res.StatusCode, body, want)
		}
		if want != http.StatusOK {
			return nil
		}
		var page struct {
			Nodes []struct{ URL string }
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil || page.Nodes == nil {
			t.Fatalf("GET /nodes: %s (%v)", body, err)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=5" {
			t.Errorf("Cache-Control %q", cc)
		}
		var urls []string
		for _, n := range page.Nodes {
			urls = append(urls, n.URL)
		}
		return urls
	}
	if got := get(http.StatusOK); len(got) != 0 {
		t.Fatalf("a node alone lists %v", got)
	}
	e.sig.SetNodes(func(context.Context) ([]string, error) {
		return []string{"https://b.example.com", "https://a.example.com"}, nil
	})
	if got := get(http.StatusOK); len(got) != 2 || got[0] != "https://b.example.com" || got[1] != "https://a.example.com" {
		t.Fatalf("listed %v", got)
	}
	e.sig.SetNodes(func(context.Context) ([]string, error) { return nil, errors.New("no quorum") })
	get(http.StatusServiceUnavailable)
}

// TestRoomViewCounts: GET /rooms/{room} counts the room's LL-HLS players (what
// SetHLSPlayers says) beside its WebRTC viewers, and shows the room across the cluster
// (SetCluster) to a roomList token only, not to the room's admin.
func TestRoomViewCounts(t *testing.T) {
	e := newEnv(t, nil)
	r, err := e.sfu.Join("show", sfu.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Leave(sfu.RoleViewer)
	e.sig.SetHLSPlayers(func(room string) int { return map[string]int{"show": 7}[room] })
	e.sig.SetCluster(func(_ context.Context, room string) any { return map[string]any{"viewers": 42} })
	view := func(token string) (v struct {
		Viewers struct{ WebRTC, LLHLS int }
		Cluster *struct{ Viewers int }
	}) {
		t.Helper()
		if err := json.Unmarshal([]byte(e.getBody(t, "/rooms/show", token)), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	list := view(e.token("", auth.TokenOptions{Identity: "platform", List: true}))
	if list.Viewers.LLHLS != 7 || list.Cluster == nil || list.Cluster.Viewers != 42 {
		t.Fatalf("with roomList: %+v", list)
	}
	if admin := view(e.token("show", auth.TokenOptions{Identity: "host", Admin: true})); admin.Viewers.LLHLS != 7 || admin.Cluster != nil {
		t.Fatalf("with the room's admin token: %+v; want the counts, no cluster", admin)
	}
}
