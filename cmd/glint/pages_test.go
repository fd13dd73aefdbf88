package main

import (
	"io"
	"net/http"
	pathpkg "path"
	"regexp"
	"strings"
	"testing"
)

// TestPagesServe: the pages built on the SDK are served at the root and the SDK at /sdk/,
// with types a browser accepts, and every script, stylesheet and module a page names
// (./common.js, /sdk/glint.js …) is there. Paths that are not pages stay with signaling.
func TestPagesServe(t *testing.T) {
	a, stop := startApp(t, testConfig(t))
	defer stop()

	ref := regexp.MustCompile(`(?:src|href)="(/?[a-z]+\.(?:js|css))"`)
	imp := regexp.MustCompile(`from '(\.?/[a-z/]+\.m?js)'`)
	wantType := map[string]string{".html": "text/html", ".js": "javascript", ".mjs": "javascript", ".css": "text/css", ".ts": ""}
	seen := map[string]bool{}
	queue := []string{"/", "/watch.html", "/studio.html", "/sdk/hls.min.mjs", "/sdk/types/index.d.ts"}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		if seen[path] {
			continue
		}
		seen[path] = true
		res, err := http.Get(a.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, res.Status)
			continue
		}
		ext := ".html"
		if i := strings.LastIndex(path, "."); i > 0 {
			ext = path[i:]
		}
		if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, wantType[ext]) {
			t.Errorf("GET %s: Content-Type %q, want %s", path, ct, wantType[ext])
		}
		if ext != ".html" && ext != ".js" {
			continue // hls.js and the declarations name nothing a page loads
		}
		for _, m := range append(ref.FindAllStringSubmatch(string(body), -1), imp.FindAllStringSubmatch(string(body), -1)...) {
			queue = append(queue, pathpkg.Join(pathpkg.Dir(path+"x"), m[1]))
		}
	}
	for _, want := range []string{"/watch.js", "/studio.js", "/common.js", "/app.css", "/sdk/glint.js"} {
		if !seen[want] {
			t.Errorf("no page references %s", want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, a.URL()+"/sdk/glint.js", nil)
	req.Header.Set("Origin", "https://shop.example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("GET /sdk/glint.js from another origin: Access-Control-Allow-Origin %q, want *", got)
	}
	res, err = http.Get(a.URL() + "/rooms")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /rooms without a token: %s, want 401 from signaling", res.Status)
	}
}
