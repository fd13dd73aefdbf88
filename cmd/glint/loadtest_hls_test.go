package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glintlive/glint/loadtest"
)

// TestLoadtestHLSCommand checks the wiring of `glint loadtest hls` against a server with no
// live room: the flags reach the run (the room's playlist is asked for with the token), the
// table and the JSON report say why nothing was measured (404) without the token, and the
// command fails with ErrNothingMeasured. The measuring itself is tested in package loadtest
// against a real LL-HLS muxer.
func TestLoadtestHLSCommand(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.RequestURI())
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer srv.Close()
	jsonPath := filepath.Join(t.TempDir(), "hls.json")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"loadtest", "hls", "--url", srv.URL, "--room", "stage", "--token", "secret-tok", "--viewers", "2",
		"--duration", "1s", "--json", jsonPath}, &stdout, &stderr, func(string) string { return "" })
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if !errors.Is(err, loadtest.ErrNothingMeasured) {
		t.Fatalf("err = %v; want ErrNothingMeasured", err)
	}
	mu.Lock()
	if len(asked) != 2 || asked[0] != "/hls/stage/index.m3u8?access_token=secret-tok" {
		t.Errorf("requests %q; want the room's multivariant playlist with the token, once per viewer", asked)
	}
	mu.Unlock()
	if !strings.Contains(stdout.String(), "multivariant 404: 2") || strings.Contains(stdout.String(), "secret-tok") {
		t.Errorf("the table should count the 404s and never show the token")
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep loadtest.HLSReport
	if err := json.Unmarshal(b, &rep); err != nil || rep.Failed != 2 || rep.Errors["multivariant 404"] != 2 || strings.Contains(string(b), "secret-tok") {
		t.Errorf("JSON report (%v):\n%s", err, b)
	}
}
