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

// TestDemoServes serves Demo the way the server does and checks that every page
// loads and every script and stylesheet it references is there with a type a
// browser accepts (module scripts need a JavaScript MIME type).
func TestDemoServes(t *testing.T) {
	sub, err := fs.Sub(Demo, "demo")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/demo/", http.FileServer(http.FS(sub))))
	defer srv.Close()

	ref := regexp.MustCompile(`(?:src|href)="([a-z]+\.(?:js|css))"`)
	imp := regexp.MustCompile(`from '\./([a-z]+\.js)'`)
	wantType := map[string]string{".html": "text/html", ".js": "javascript", ".css": "text/css"}
	seen := map[string]bool{}
	queue := []string{"index.html", "publish.html", "play.html"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		body, ctype := get(t, srv.URL+"/demo/"+name)
		ext := name[strings.LastIndex(name, "."):]
		if !strings.Contains(ctype, wantType[ext]) {
			t.Errorf("%s: Content-Type %q, want %s", name, ctype, wantType[ext])
		}
		for _, m := range append(ref.FindAllStringSubmatch(body, -1), imp.FindAllStringSubmatch(body, -1)...) {
			queue = append(queue, m[1])
		}
	}
	for _, want := range []string{"publish.js", "play.js", "whip.js", "demo.css"} {
		if !seen[want] {
			t.Errorf("no page references %s", want)
		}
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
