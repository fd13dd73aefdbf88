package llhls

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/glintlive/glint/sfu"
)

// liveRoom is a room with one H.264 layer (640x360) and Opus, served by an origin.
func liveRoom(t *testing.T, room string, authorize Authorizer) (*testOrigin, *testHost) {
	t.Helper()
	s := testSFU(t)
	host := startHost(t, s, room, hostOptions{clips: []clipSpec{clipH}, audio: true, jitter: true})
	to := startOrigin(t, s, DefaultConfig(), authorize, nil)
	return to, host
}

// TestBlockingReload: a blocking reload for the next part returns once that part exists,
// with it in the playlist; so does a request for the preload-hinted part. The waits and
// how old the part's last frame was when the answer came (capture to response) are
// reported.
func TestBlockingReload(t *testing.T) {
	to, _ := liveRoom(t, "block", nil)
	to.waitLive(t, "block", "")
	const rel = "f/" + videoPlaylist
	pl, _ := to.mediaPlaylist(t, "block", rel)
	var waits, ages []time.Duration
	for range 10 {
		msn, part := nextPart(pl)
		start := time.Now()
		resp, body := to.get(t, "/hls/block/"+blockingPath(rel, msn, part))
		wait := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("blocking reload %d.%d: %d %s", msn, part, resp.StatusCode, body)
		}
		next, err := parseMedia(body)
		if err != nil {
			t.Fatal(err)
		}
		if m, p := nextPart(next); m < msn || m == msn && p <= part {
			t.Fatalf("blocking reload for %d.%d answered without it: edge %d.%d\n%s", msn, part, m, p, body)
		}
		waits = append(waits, wait)
		if end, ok := lastPartEnd(next); ok {
			ages = append(ages, time.Since(end))
		}
		pl = next
	}
	// The preload hint: the part being written, answered once it is complete.
	var hintWaits []time.Duration
	for range 5 {
		pl, _ = to.mediaPlaylist(t, "block", rel)
		start := time.Now()
		resp, body := to.get(t, "/hls/block/f/"+pl.PreloadHint.URI)
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Fatalf("preload hint %s: %d %s", pl.PreloadHint.URI, resp.StatusCode, body)
		}
		hintWaits = append(hintWaits, time.Since(start))
	}
	t.Logf("blocking reload waits %v; capture of the part's last frame to response %v; preload-hint part waits %v",
		summary(waits), summary(ages), summary(hintWaits))
	// This test is one player (one address, one User-Agent), however often it reloaded.
	if n := to.o.Players("block"); n != 1 {
		t.Errorf("Players = %d after one client's reloads, want 1", n)
	}
	req, _ := http.NewRequest(http.MethodGet, to.srv.URL+"/hls/block/"+rel, nil)
	req.Header.Set("User-Agent", "a second player")
	if resp, err := to.c.Do(req); err != nil {
		t.Fatal(err)
	} else {
		_ = resp.Body.Close()
	}
	if n := to.o.Players("block"); n != 2 {
		t.Errorf("Players = %d with a second player, want 2", n)
	}
}

// lastPartEnd is the capture time of the end of the newest part: the newest segment's
// PROGRAM-DATE-TIME plus the parts after it.
func lastPartEnd(pl *playlist.Media) (time.Time, bool) {
	if len(pl.Segments) == 0 {
		return time.Time{}, false
	}
	last := pl.Segments[len(pl.Segments)-1]
	if last.DateTime == nil {
		return time.Time{}, false
	}
	end := last.DateTime.Add(last.Duration)
	for _, p := range pl.Parts {
		end = end.Add(p.Duration)
	}
	return end, true
}

// summary is min/median/max of ds.
func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "(none)"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v median %v max %v (n=%d)", r(s[0]), r(s[len(s)/2]), r(s[len(s)-1]), len(s))
}

// TestBlockingReloadRefusals: requests the origin refuses at once: too far ahead (400),
// malformed blocking queries (400), a part without a segment (400), an oversized query.
func TestBlockingReloadRefusals(t *testing.T) {
	to, _ := liveRoom(t, "refuse", nil)
	to.waitLive(t, "refuse", "")
	const rel = "f/" + videoPlaylist
	pl, _ := to.mediaPlaylist(t, "refuse", rel)
	msn, part := nextPart(pl)
	_ = part
	long := "x=" + strings.Repeat("a", maxQueryBytes)
	for _, tc := range []struct {
		name, query string
		code        int
	}{
		{"msn three segments ahead", fmt.Sprintf("_HLS_msn=%d", msn+3), http.StatusBadRequest},
		{"part far ahead in a later segment", fmt.Sprintf("_HLS_msn=%d&_HLS_part=20", msn+2), http.StatusBadRequest},
		{"huge msn", "_HLS_msn=2147483647", http.StatusBadRequest},
		{"msn not a number", "_HLS_msn=abc", http.StatusBadRequest},
		{"negative msn", "_HLS_msn=-1", http.StatusBadRequest},
		{"fractional msn", "_HLS_msn=1.5", http.StatusBadRequest},
		{"msn beyond 31 bits", "_HLS_msn=99999999999", http.StatusBadRequest},
		{"part not a number", fmt.Sprintf("_HLS_msn=%d&_HLS_part=x", msn), http.StatusBadRequest},
		{"negative part", fmt.Sprintf("_HLS_msn=%d&_HLS_part=-1", msn), http.StatusBadRequest},
		{"part without msn", "_HLS_part=1", http.StatusBadRequest},
		{"query longer than 2 KB", long, http.StatusBadRequest},
		{"skip alone (no delta updates: the full playlist)", "_HLS_skip=YES", http.StatusOK},
		{"a part in the past", fmt.Sprintf("_HLS_msn=%d&_HLS_part=0", pl.MediaSequence), http.StatusOK},
	} {
		start := time.Now()
		resp, body := to.get(t, "/hls/refuse/"+rel+"?"+tc.query)
		took := time.Since(start)
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.code)
			continue
		}
		if tc.code == http.StatusBadRequest {
			if cc := resp.Header.Get("Cache-Control"); cc != errorCache {
				t.Errorf("%s: Cache-Control %q, want %q", tc.name, cc, errorCache)
			}
			// At once, not after waiting for the part: well within the blocking timeout.
			if took > DefaultConfig().blockTimeout()/2 {
				t.Errorf("%s: refused after %v", tc.name, took)
			}
		}
		t.Logf("%s: %d in %v: %s", tc.name, resp.StatusCode, took.Round(time.Millisecond), firstLine(body))
	}
	// A part file far ahead of the preload hint is refused too.
	n, _ := partNumber(pl.PreloadHint.URI)
	far := strings.Replace(pl.PreloadHint.URI, fmt.Sprintf("_part%d.mp4", n), fmt.Sprintf("_part%d.mp4", n+10), 1)
	if resp, body := to.get(t, "/hls/refuse/f/"+far); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("part %s far ahead: %d %s, want 400", far, resp.StatusCode, body)
	}
}

// newestPart is the URI of the newest complete part.
func newestPart(pl *playlist.Media) string {
	if n := len(pl.Parts); n > 0 {
		return pl.Parts[n-1].URI
	}
	for i := len(pl.Segments) - 1; i >= 0; i-- {
		if n := len(pl.Segments[i].Parts); n > 0 {
			return pl.Segments[i].Parts[n-1].URI
		}
	}
	return ""
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}

// TestNotServed: rooms and paths the origin answers 404 for, with a reason.
func TestNotServed(t *testing.T) {
	s := testSFU(t)
	startHost(t, s, "vp8", hostOptions{vp8: true})
	startHost(t, s, "live", hostOptions{clips: []clipSpec{clipQ}})
	idle, err := s.Join("idle", sfu.RoleViewer) // a room nobody publishes in
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idle.Leave(sfu.RoleViewer) })
	cfg := DefaultConfig()
	cfg.FFmpeg = "" // a server without ffmpeg: a VP8 host's room is not served (transcode_test.go has the other case)
	to := startOrigin(t, s, cfg, nil, nil)
	to.waitLive(t, "live", "")
	for _, tc := range []struct {
		name, path string
		want       error
	}{
		{"unknown room", "/hls/nosuch/index.m3u8", ErrNoRoom},
		{"unknown room's playlist", "/hls/nosuch/f/" + videoPlaylist, ErrNoRoom},
		{"invalid room name", "/hls/" + url.PathEscape("a b") + "/index.m3u8", ErrNoRoom},
		{"room not live", "/hls/idle/index.m3u8", ErrNotLive},
		{"VP8 host", "/hls/vp8/index.m3u8", ErrVP8},
		{"VP8 host's playlist", "/hls/vp8/f/" + videoPlaylist, ErrVP8},
		{"no such layer", "/hls/live/x/" + videoPlaylist, ErrNotFound},
		{"a layer the host does not send", "/hls/live/q/" + videoPlaylist, ErrNotFound},
		{"no such playlist", "/hls/live/f/other.m3u8", ErrNotFound},
		{"no audio playlist without audio", "/hls/live/f/" + audioPlaylist, ErrNotFound},
		{"no such part", "/hls/live/f/nosuch_video1_part1.mp4", ErrNotFound},
		{"no such segment", "/hls/live/f/nosuch_video1_seg1.mp4", ErrNotFound},
	} {
		resp, body := to.get(t, tc.path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d %s, want 404", tc.name, resp.StatusCode, body)
			continue
		}
		if !strings.Contains(string(body), tc.want.Error()) {
			t.Errorf("%s: body %q, want it to say %q", tc.name, body, tc.want)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != errorCache {
			t.Errorf("%s: Cache-Control %q, want %q", tc.name, cc, errorCache)
		}
	}
	if n := to.o.Streams(); n != 1 {
		t.Errorf("%d streams muxed, want 1 (only the live H.264 room)", n)
	}
}

// TestHostStopsBlockedRequestsEnd: requests waiting for a part when the host goes silent
// end with 503 within three target durations; when the host's session then ends (the room
// goes away), waiting requests end too.
func TestHostStopsBlockedRequestsEnd(t *testing.T) {
	to, host := liveRoom(t, "stops", nil)
	to.waitLive(t, "stops", "")
	const rel = "f/" + videoPlaylist
	pl, _ := to.mediaPlaylist(t, "stops", rel)
	host.stopSending()
	time.Sleep(300 * time.Millisecond) // the last frames reach the muxer
	pl, _ = to.mediaPlaylist(t, "stops", rel)
	msn, part := nextPart(pl)
	limit := DefaultConfig().blockTimeout()
	type result struct {
		code int
		took time.Duration
		body string
	}
	wait := func(path string, n int) []result {
		out := make([]result, n)
		var wg sync.WaitGroup
		for i := range out {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				resp, body, err := to.fetch(path)
				out[i].took = time.Since(start)
				if err != nil {
					out[i].body = err.Error()
					return
				}
				out[i].code, out[i].body = resp.StatusCode, string(body)
			}()
		}
		wg.Wait()
		return out
	}
	silent := wait("/hls/stops/"+blockingPath(rel, msn, part), 5)
	hint := wait("/hls/stops/f/"+pl.PreloadHint.URI, 1)
	for _, r := range append(silent, hint...) {
		if r.code != http.StatusServiceUnavailable {
			t.Fatalf("silent host: %d %s, want 503", r.code, r.body)
		}
		// Bounded: three target durations, plus scheduling slack on a loaded machine.
		if r.took > limit+2*time.Second {
			t.Fatalf("silent host: answered after %v, want within %v", r.took, limit)
		}
	}
	t.Logf("silent host: blocked requests ended with 503 after %v (limit %v): %s",
		silent[0].took.Round(time.Millisecond), limit, firstLine([]byte(silent[0].body)))

	// The session ends: the room goes away and the stream with it.
	done := make(chan []result, 1)
	go func() { done <- wait("/hls/stops/"+blockingPath(rel, msn, part), 3) }()
	time.Sleep(200 * time.Millisecond)
	host.close()
	var ended []result
	select {
	case ended = <-done:
	case <-time.After(limit + 5*time.Second):
		t.Fatal("blocked requests still waiting after the host's session ended")
	}
	for _, r := range ended {
		if r.code != http.StatusServiceUnavailable && r.code != http.StatusNotFound {
			t.Fatalf("ended host: %d %s, want 503 (stream ended) or 404", r.code, r.body)
		}
	}
	t.Logf("ended host: blocked requests ended with %d after %v: %s", ended[0].code,
		ended[0].took.Round(time.Millisecond), firstLine([]byte(ended[0].body)))
}

// tokenAuthorizer admits "good-<room>" in access_token; no token is 401, another 403.
func tokenAuthorizer(r *http.Request, room string) (int, error) {
	switch tok := r.URL.Query().Get("access_token"); tok {
	case "":
		return http.StatusUnauthorized, errors.New("no access token")
	case "good-" + room:
		return 0, nil
	default:
		return http.StatusForbidden, errors.New("token not valid for this room")
	}
}

// TestTokens: every kind of request is checked by the Authorizer (401 without a token,
// 403 with a wrong one), and the token a player was given is carried into every URI of
// every playlist it gets, so players that do not add it themselves keep working.
func TestTokens(t *testing.T) {
	to, _ := liveRoom(t, "tok", tokenAuthorizer)
	good := "access_token=good-tok"
	mv := to.waitLive(t, "tok", good)
	uris := mediaURIs(mv)
	if len(uris) != 2 {
		t.Fatalf("media playlists %v, want video and audio", uris)
	}
	for _, u := range uris {
		if !strings.HasSuffix(u, "?"+good) {
			t.Errorf("multivariant URI %q does not carry the token", u)
		}
	}
	var objects []string
	for _, u := range uris {
		pl, body := to.mediaPlaylist(t, "tok", u)
		checkCarried(t, u, body, good)
		msn, part := nextPart(pl)
		_, blocked := to.get(t, "/hls/tok/"+blockingPath(u, msn, part))
		checkCarried(t, u+" (blocking)", blocked, good)
		if strings.Contains(string(blocked), "_HLS_") {
			t.Errorf("%s: blocking-reload parameters carried into URIs:\n%s", u, blocked)
		}
		d := dir(stripQuery(u))
		objects = append(objects, d+pl.Map.URI, d+newestPart(pl))
		for _, seg := range pl.Segments {
			if !seg.Gap {
				objects = append(objects, d+seg.URI)
				break
			}
		}
	}
	// The carried URIs work as they are.
	for _, o := range objects {
		if resp, body := to.get(t, "/hls/tok/"+o); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", o, resp.StatusCode, body)
		}
	}
	// Without the token, or with another room's, every kind is refused.
	paths := []string{"index.m3u8", stripQuery(uris[0]), stripQuery(uris[1])}
	for _, o := range objects {
		paths = append(paths, stripQuery(o))
	}
	for _, p := range paths {
		for _, tc := range []struct {
			query string
			code  int
		}{{"", http.StatusUnauthorized}, {"access_token=good-other", http.StatusForbidden}} {
			path := "/hls/tok/" + p
			if tc.query != "" {
				path += "?" + tc.query
			}
			resp, body := to.get(t, path)
			if resp.StatusCode != tc.code {
				t.Errorf("GET %s: %d %s, want %d", path, resp.StatusCode, body, tc.code)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != errorCache {
				t.Errorf("GET %s: Cache-Control %q on a refusal, want %q", path, cc, errorCache)
			}
		}
	}
}

var uriAttr = regexp.MustCompile(`URI="([^"]*)"`)

// checkCarried fails unless every URI in a playlist (lines and URI attributes) ends with
// the query.
func checkCarried(t *testing.T, name string, body []byte, query string) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(string(body), "\n") {
		var uris []string
		switch {
		case line == "":
		case !strings.HasPrefix(line, "#"):
			uris = append(uris, line)
		default:
			for _, m := range uriAttr.FindAllStringSubmatch(line, -1) {
				uris = append(uris, m[1])
			}
		}
		for _, u := range uris {
			n++
			if !strings.HasSuffix(u, "?"+query) {
				t.Errorf("%s: URI %q does not carry %q", name, u, query)
			}
		}
	}
	if n < 5 {
		t.Errorf("%s: only %d URIs:\n%s", name, n, body)
	}
}

// TestHTTPCaching: what a CDN and a browser rely on: Cache-Control by kind, ETag and 304,
// gzip for playlists, Range on parts, CORS.
func TestHTTPCaching(t *testing.T) {
	to, _ := liveRoom(t, "cache", nil)
	to.waitLive(t, "cache", "")
	const rel = "f/" + videoPlaylist
	pl, _ := to.mediaPlaylist(t, "cache", rel)
	msn, part := nextPart(pl)
	seg := ""
	for _, s := range pl.Segments {
		if !s.Gap {
			seg = "f/" + s.URI
		}
	}
	partURI := "f/" + newestPart(pl)

	// Cache-Control by kind.
	for _, tc := range []struct{ name, path, want string }{
		{"multivariant", "index.m3u8", multivariantMax},
		{"media playlist", rel, playlistCache},
		{"blocking reload", blockingPath(rel, msn, part), blockingCache},
		{"init", "f/" + pl.Map.URI, immutableCache},
		{"part", partURI, immutableCache},
		{"segment", seg, immutableCache},
		{"404", "nosuch/x/y.m3u8", errorCache},
	} {
		resp, _ := to.get(t, "/hls/cache/"+tc.path)
		if got := resp.Header.Get("Cache-Control"); got != tc.want {
			t.Errorf("%s: Cache-Control %q, want %q", tc.name, got, tc.want)
		}
		if tc.name != "404" && resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", tc.name, resp.StatusCode)
		}
	}

	// ETag and 304: a playlist changes with every part, so the conditional request is
	// retried until it lands while the playlist is unchanged.
	got304 := false
	for range 20 {
		resp, _ := to.get(t, "/hls/cache/"+rel)
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatal("playlist without ETag")
		}
		resp, body := to.get(t, "/hls/cache/"+rel, "If-None-Match", etag)
		if resp.StatusCode == http.StatusNotModified {
			got304 = len(body) == 0
			break
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
			t.Fatalf("conditional playlist request: %d with ETag %s (sent %s)", resp.StatusCode, resp.Header.Get("ETag"), etag)
		}
	}
	if !got304 {
		t.Error("no 304 for an unchanged playlist in 20 tries")
	}
	resp, full := to.get(t, "/hls/cache/"+partURI)
	etag := resp.Header.Get("ETag")
	if resp, body := to.get(t, "/hls/cache/"+partURI, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("part with If-None-Match %s: %d, %d bytes, want 304", etag, resp.StatusCode, len(body))
	}
	if resp, _ := to.get(t, "/hls/cache/"+partURI, "If-None-Match", `"other"`); resp.StatusCode != http.StatusOK {
		t.Errorf("part with another ETag: %d, want 200", resp.StatusCode)
	}

	// gzip for playlists, when asked for (the client sets the header itself, so Go's
	// transport leaves the body compressed).
	resp, body := to.get(t, "/hls/cache/"+rel, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("playlist with Accept-Encoding gzip: Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	} else {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || !bytes.HasPrefix(plain, []byte("#EXTM3U")) {
			t.Errorf("gzipped playlist: %v %q", err, firstLine(plain))
		}
		t.Logf("playlist: %d bytes, %d gzipped", len(plain), len(body))
	}
	if resp, body := to.get(t, "/hls/cache/"+rel, "Accept-Encoding", "identity"); resp.Header.Get("Content-Encoding") != "" || !bytes.HasPrefix(body, []byte("#EXTM3U")) {
		t.Errorf("playlist without gzip: Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}

	// Range on a part.
	if len(full) < 200 {
		t.Fatalf("part of %d bytes", len(full))
	}
	resp, body = to.get(t, "/hls/cache/"+partURI, "Range", "bytes=10-109")
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, full[10:110]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-109/%d", len(full)) {
		t.Errorf("Range bytes=10-109: %d, Content-Range %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Range"), len(body))
	}
	resp, body = to.get(t, "/hls/cache/"+partURI, "Range", fmt.Sprintf("bytes=%d-", len(full)-50))
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, full[len(full)-50:]) {
		t.Errorf("Range open-ended: %d, %d bytes", resp.StatusCode, len(body))
	}

	// CORS: players on any origin read everything, and preflights pass.
	for _, p := range []string{"index.m3u8", rel, partURI, "nosuch/f/x.mp4"} {
		resp, _ := to.get(t, "/hls/cache/"+p, "Origin", "https://player.example")
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Content-Range") {
			t.Errorf("GET %s: CORS headers %v", p, resp.Header)
		}
	}
	req, _ := http.NewRequest(http.MethodOptions, to.srv.URL+"/hls/cache/"+partURI, nil)
	req.Header.Set("Origin", "https://player.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "range")
	resp, err := to.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Range") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "GET") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}
