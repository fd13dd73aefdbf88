package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestBrowserDirectory: two live rooms in two categories (pion hosts over WHIP, each given
// a title and a category by its admin with PUT /rooms/{room}/metadata) and a room with
// metadata but no host. Headless Chromium opens demo/directory.html
// (webclient/e2e/directory.mjs): unfiltered it lists the two live rooms, with ?category=
// only the first's, and after choosing the other category in the page's select only that
// one.
func TestBrowserDirectory(t *testing.T) {
	runBrowserScript(t, "e2e/directory.mjs", func(a *app, _ string) []string {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		for _, r := range []struct{ room, category string }{{"jazz", "Music"}, {"match", "Sports"}, {"later", "Music"}} {
			if r.room != "later" {
				pub, err := sfutest.NewPublisher(ctx, httpSignal(a.URL()+"/whip/"+r.room, issue(t, a, r.room, auth.TokenOptions{Publish: true})))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = pub.Close() })
				go func() { _ = pub.SendFrames(ctx, 0, 30*60, 30, 30) }()
			}
			body := fmt.Sprintf(`{"title":"%s tonight","category":"%s"}`, r.room, r.category)
			req, _ := http.NewRequest(http.MethodPut, a.URL()+"/rooms/"+r.room+"/metadata", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+issue(t, a, r.room, auth.TokenOptions{Admin: true}))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("PUT /rooms/%s/metadata: %s", r.room, res.Status)
			}
		}
		for _, room := range []string{"jazz", "match"} {
			for deadline := time.Now().Add(10 * time.Second); a.sfu.Room(room) == nil || !a.sfu.Room(room).Host().Live; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("room %s's host did not go live within 10 s", room)
				}
			}
		}
		return []string{"--expect", "jazz:Music,match:Sports"}
	})
}

// issue mints a token for room on a's credentials.
func issue(t *testing.T, a *app, room string, o auth.TokenOptions) string {
	t.Helper()
	o.Room, o.Identity, o.TTL = room, "test-"+room, time.Hour
	tok, err := auth.Issue(a.cfg.APIKey, a.cfg.APISecret, o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
