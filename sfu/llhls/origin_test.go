package llhls

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// testOrigin is an Origin over an SFU, served by httptest on loopback.
type testOrigin struct {
	o   *Origin
	srv *httptest.Server
	c   *http.Client
}

// startOrigin serves cfg's origin (wrapped by wrap, when given); everything closes when
// the test ends.
func startOrigin(t testing.TB, s *sfu.SFU, cfg Config, authorize Authorizer, wrap func(http.Handler) http.Handler) *testOrigin {
	t.Helper()
	o, err := New(cfg, s, authorize, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	h := o.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	to := &testOrigin{o: o, srv: srv, c: srv.Client()}
	t.Cleanup(func() {
		o.Close() // first: blocked requests end, so the server's Close does not wait on them
		srv.Close()
	})
	return to
}

// get fetches path (with its query) from the origin; hdr is name, value pairs.
func (to *testOrigin) get(t testing.TB, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := to.fetch(path, hdr...)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// fetch is get for goroutines other than the test's.
func (to *testOrigin) fetch(path string, hdr ...string) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, to.srv.URL+path, nil)
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := to.c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: body: %w", path, err)
	}
	return resp, body, nil
}

// waitLive asks for the room's multivariant playlist until it is served (a new stream
// answers 503 until its first segment closes), at most 20 s.
func (to *testOrigin) waitLive(t testing.TB, room, query string) *playlist.Multivariant {
	t.Helper()
	path := "/hls/" + room + "/index.m3u8"
	if query != "" {
		path += "?" + query
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, body := to.get(t, path)
		if resp.StatusCode == http.StatusOK {
			var mv playlist.Multivariant
			if err := mv.Unmarshal(body); err != nil {
				t.Fatalf("multivariant: %v\n%s", err, body)
			}
			return &mv
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mediaPlaylist fetches and parses a media playlist (rel is relative to /hls/{room}/).
func (to *testOrigin) mediaPlaylist(t testing.TB, room, rel string) (*playlist.Media, []byte) {
	t.Helper()
	resp, body := to.get(t, "/hls/"+room+"/"+rel)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", rel, resp.StatusCode, body)
	}
	pl, err := parseMedia(body)
	if err != nil {
		t.Fatal(err)
	}
	return pl, body
}

func parseMedia(body []byte) (*playlist.Media, error) {
	var pl playlist.Media
	if err := pl.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("media playlist: %w\n%s", err, body)
	}
	return &pl, nil
}

// nextPart is the blocking-reload query for the part after the newest one in pl.
func nextPart(pl *playlist.Media) (msn, part int) {
	return pl.MediaSequence + len(pl.Segments), len(pl.Parts)
}

// blockingPath is rel with _HLS_msn/_HLS_part for (msn, part), keeping rel's own query.
func blockingPath(rel string, msn, part int) string {
	q := url.Values{}
	if i := strings.IndexByte(rel, '?'); i >= 0 {
		q, _ = url.ParseQuery(rel[i+1:])
		rel = rel[:i]
	}
	q.Set("_HLS_msn", fmt.Sprint(msn))
	q.Set("_HLS_part", fmt.Sprint(part))
	return rel + "?" + q.Encode()
}

// mediaURIs are the media playlists a multivariant playlist lists (video and audio),
// relative to its folder.
func mediaURIs(mv *playlist.Multivariant) []string {
	var out []string
	for _, v := range mv.Variants {
		out = append(out, v.URI)
	}
	for _, r := range mv.Renditions {
		if r.URI != nil {
			out = append(out, *r.URI)
		}
	}
	return out
}

// stripQuery is uri without its query.
func stripQuery(uri string) string {
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		return uri[:i]
	}
	return uri
}

// dir is the folder of a media playlist's URI ("f/video1_stream.m3u8" -> "f/").
func dir(uri string) string {
	if i := strings.LastIndexByte(uri, '/'); i >= 0 {
		return uri[:i+1]
	}
	return ""
}
