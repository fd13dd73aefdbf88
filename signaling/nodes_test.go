package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
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
