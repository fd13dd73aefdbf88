package webclient

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestDemoServes serves Demo and SDK the way the server does (at /demo/ and /sdk/) and
// checks that every page loads and every script, stylesheet and module it references, the
// SDK it imports from /sdk/ included, is there with a type a browser accepts (module
// scripts need a JavaScript MIME type).
func TestDemoServes(t *testing.T) {
	demo, err := fs.Sub(Demo, "demo")
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := fs.Sub(SDK, "sdk/dist")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/demo/", http.StripPrefix("/demo/", http.FileServer(http.FS(demo))))
	mux.Handle("/sdk/", http.StripPrefix("/sdk/", http.FileServer(http.FS(sdk))))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Paths are from the server's root: /demo/x for what a page names relatively, and
	// /sdk/x for the SDK, which a page imports by its absolute path.
	ref := regexp.MustCompile(`(?:src|href)="([a-z]+\.(?:js|css))"`)
	imp := regexp.MustCompile(`from '\./([a-z]+\.js)'`)
	sdkRef := regexp.MustCompile(`'(/sdk/[a-z]+\.m?js)'`)
	wantType := map[string]string{".html": "text/html", ".js": "javascript", ".mjs": "javascript", ".css": "text/css"}
	seen := map[string]bool{}
	queue := []string{"/demo/index.html", "/demo/publish.html", "/demo/play.html", "/demo/auction.html", "/demo/directory.html"}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		if seen[path] {
			continue
		}
		seen[path] = true
		body, ctype := get(t, srv.URL+path)
		ext := path[strings.LastIndex(path, "."):]
		if !strings.Contains(ctype, wantType[ext]) {
			t.Errorf("%s: Content-Type %q, want %s", path, ctype, wantType[ext])
		}
		if strings.HasPrefix(path, "/sdk/") {
			continue // the built SDK: its own imports are tested with it
		}
		for _, m := range append(ref.FindAllStringSubmatch(body, -1), imp.FindAllStringSubmatch(body, -1)...) {
			queue = append(queue, "/demo/"+m[1])
		}
		for _, m := range sdkRef.FindAllStringSubmatch(body, -1) {
			queue = append(queue, m[1])
		}
	}
	for _, want := range []string{"publish.js", "play.js", "auction.js", "directory.js", "page.js", "demo.css"} {
		if !seen["/demo/"+want] {
			t.Errorf("no page references %s", want)
		}
	}
	if !seen["/sdk/glint.js"] {
		t.Error("no demo page imports /sdk/glint.js")
	}
}

func get(t *testing.T, url string) (body, contentType string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	return string(b), res.Header.Get("Content-Type")
}
