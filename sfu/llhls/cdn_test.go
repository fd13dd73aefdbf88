package llhls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

const (
	cdnClients = 50
	cdnFor     = 10 * time.Second
	cdnDoc     = "../../docs/HLS-CDN.md"
)

// TestNginxCache: nginx with the configuration of docs/HLS-CDN.md (read from the page, so
// the two cannot drift apart) in front of a live room; 50 LL-HLS clients follow the video
// and audio playlists through it for 10 s. Glint must see about one blocking reload and
// one GET per part per playlist, not one per client; errors (400, 404) must pass through
// uncached. The counts and the clients' latency (direct and through nginx) are reported.
func TestNginxCache(t *testing.T) {
	bin := requireNginx(t)
	conf := docNginxConfig(t)
	s := testSFU(t)
	host := startHost(t, s, "cdn", hostOptions{clips: []clipSpec{clipH}, audio: true, jitter: true})
	up := &upstreamCounter{byURL: map[string]int{}, byKind: map[string]int{}}
	to := startOrigin(t, s, DefaultConfig(), nil, up.wrap)
	mv := to.waitLive(t, "cdn", "") // the stream's start is not what is measured
	rels := mediaURIs(mv)
	if len(rels) != 2 {
		t.Fatalf("media playlists %v, want video and audio", rels)
	}
	base := startNginx(t, bin, conf, to.srv.Listener.Addr().String())
	up.reset()

	tr := &http.Transport{MaxIdleConnsPerHost: 4 * cdnClients, IdleConnTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	viaNginx := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), cdnFor)
	defer cancel()
	var nginxStats, directStats clientStats
	var wg sync.WaitGroup
	for range cdnClients {
		for _, rel := range rels {
			wg.Add(1)
			go func() {
				defer wg.Done()
				follow(ctx, viaNginx, base+"/hls/cdn/", rel, &nginxStats)
			}()
		}
	}
	// One player straight at Glint, for comparison.
	for _, rel := range rels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			direct := &http.Client{Transport: headerTransport{to.c.Transport, directHeader}}
			follow(ctx, direct, to.srv.URL+"/hls/cdn/", rel, &directStats)
		}()
	}
	wg.Wait()
	ups := up.snapshot()

	n := nginxStats.snapshot()
	parts := len(n.parts)
	t.Logf("through nginx: %d clients x %d playlists for %v: %d requests (%d plain reloads, %d blocking, %d parts, %d init), X-Cache %v",
		cdnClients, len(rels), cdnFor, n.total(), n.byKind["plain"], n.byKind["blocking"], n.byKind["part"], n.byKind["init"], n.cache)
	t.Logf("at Glint: %d requests %v; %d distinct parts were published; blocking reloads per part per playlist %.2f, part GETs per part %.2f; most requests for one URL %d (%s)",
		ups.total, ups.byKind, parts, float64(ups.byKind["blocking"])/float64(max(parts, 1)),
		float64(ups.byKind["part"])/float64(max(parts, 1)), ups.maxCount, ups.maxURL)
	t.Logf("newest part's capture to the client (blocking reloads): direct %s; through nginx %s",
		directStats.snapshot().ageSummary(), n.ageSummary())
	if len(n.errors) > 0 {
		t.Errorf("%d failed requests through nginx, e.g. %v", len(n.errors), n.errors[0])
	}
	if parts < int(cdnFor/DefaultConfig().PartTarget) {
		t.Fatalf("only %d parts published in %v", parts, cdnFor)
	}
	// About one per part per playlist: a part is asked for by two keys at most (the next
	// part of a segment that is about to end, and the first of the next one).
	if b := ups.byKind["blocking"]; b > 2*parts+2*len(rels)*cdnClients/10 {
		t.Errorf("Glint saw %d blocking reloads for %d parts", b, parts)
	}
	if p := ups.byKind["part"]; p > parts+parts/5+2 {
		t.Errorf("Glint saw %d part GETs for %d parts", p, parts)
	}
	if clientSide, glint := n.byKind["blocking"]+n.byKind["part"], ups.byKind["blocking"]+ups.byKind["part"]; glint*10 > clientSide {
		t.Errorf("Glint saw %d of the clients' %d blocking reloads and part GETs: the cache is not sharing them", glint, clientSide)
	}

	// Errors go through, every time.
	up.reset()
	pl, _ := to.mediaPlaylist(t, "cdn", rels[0])
	msn, _ := nextPart(pl)
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/hls/cdn/" + blockingPath(rels[0], msn+5, 0), http.StatusBadRequest},
		{"/hls/nosuch/index.m3u8", http.StatusNotFound},
		{"/hls/cdn/f/nosuch_video1_part1.mp4", http.StatusNotFound},
	} {
		for i := range 2 {
			resp, err := viaNginx.Get(base + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || resp.Header.Get("X-Cache") == "HIT" {
				t.Errorf("GET %s (%d): %d, X-Cache %s; want %d, not from the cache", tc.path, i+1, resp.StatusCode, resp.Header.Get("X-Cache"), tc.code)
			}
		}
		if got := up.count(tc.path); got != 2 {
			t.Errorf("GET %s twice through nginx: Glint saw it %d times, want 2 (errors are not cached)", tc.path, got)
		}
	}

	// The host stops: players blocked on the next part, through nginx, each get a 503
	// (uncached), the lock's holder after Glint's three target durations, the others after
	// the lock timeout and Glint's wait.
	host.stopSending()
	time.Sleep(300 * time.Millisecond)
	pl, _ = to.mediaPlaylist(t, "cdn", rels[0])
	// The part after next: a key no player of the crowd asked for (nginx still holds
	// their last requests, abandoned at the end of the run, on the lock for theirs).
	msn, part := nextPart(pl)
	path := "/hls/cdn/" + blockingPath(rels[0], msn, part+1)
	up.reset()
	const stalled = 5
	type result struct {
		code  int
		took  time.Duration
		cache string
	}
	results := make([]result, stalled)
	var swg sync.WaitGroup
	for i := range results {
		swg.Add(1)
		go func() {
			defer swg.Done()
			start := time.Now()
			resp, err := viaNginx.Get(base + path)
			results[i].took = time.Since(start)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results[i].code, results[i].cache = resp.StatusCode, resp.Header.Get("X-Cache")
		}()
	}
	swg.Wait()
	for _, r := range results {
		if r.code != http.StatusServiceUnavailable || r.cache == "HIT" {
			t.Errorf("silent host, through nginx: %d (X-Cache %s) after %v, want 503 not from the cache", r.code, r.cache, r.took)
		}
	}
	sort.Slice(results, func(i, j int) bool { return results[i].took < results[j].took })
	t.Logf("silent host: %d players blocked through nginx got 503 after %v .. %v; Glint saw the request %d times",
		stalled, results[0].took.Round(10*time.Millisecond), results[stalled-1].took.Round(10*time.Millisecond), up.count(path))
	if n := up.count(path); n < 1 || n > stalled {
		t.Errorf("silent host: Glint saw the blocked request %d times for %d players", n, stalled)
	}
}

// headerTransport sets a header on every request.
type headerTransport struct {
	rt   http.RoundTripper
	name string
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, "1")
	return h.rt.RoundTrip(r)
}

// requireNginx skips (outside CI) or fails (in CI) when nginx is missing.
func requireNginx(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "nginx not found (Debian: apt-get install nginx); TestNginxCache runs docs/HLS-CDN.md's configuration"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// docNginxConfig is the nginx code block of docs/HLS-CDN.md.
func docNginxConfig(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(cdnDoc)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```nginx\n")
	if !ok {
		t.Fatalf("%s has no nginx code block", cdnDoc)
	}
	conf, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("%s: the nginx code block does not end", cdnDoc)
	}
	return conf
}

// startNginx runs nginx in the foreground, as this user, with conf (the page's
// configuration, its upstream, listen address and cache folder replaced) in a main
// configuration of its own, and returns its base URL. It stops when the test ends.
func startNginx(t *testing.T, bin, conf, upstream string) string {
	t.Helper()
	dir := t.TempDir()
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		site := conf
		for _, r := range [][2]string{
			{"server 127.0.0.1:8080;", "server " + upstream + ";"},
			{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", port)},
			{"/var/cache/nginx/glint-hls", filepath.Join(dir, "cache")},
		} {
			if n := strings.Count(site, r[0]); n != 1 {
				t.Fatalf("%s: %q appears %d times in the configuration, want once (the test replaces it)", cdnDoc, r[0], n)
			}
			site = strings.Replace(site, r[0], r[1], 1)
		}
		main := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/glint-hls.conf;
}
`, dir)
		if err := os.WriteFile(filepath.Join(dir, "glint-hls.conf"), []byte(site), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cmd := exec.Command(bin, "-c", filepath.Join(dir, "nginx.conf"), "-p", dir+"/", "-e", filepath.Join(dir, "error.log"))
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if err := waitListening(addr, exited); err == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Signal(syscall.SIGQUIT)
				select {
				case <-exited:
				case <-time.After(5 * time.Second):
					_ = cmd.Process.Kill()
					<-exited
				}
				if log, _ := os.ReadFile(filepath.Join(dir, "error.log")); len(bytes.TrimSpace(log)) > 0 {
					t.Logf("nginx error log:\n%s", log)
				}
			})
			return "http://" + addr
		} else {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			if attempt < 3 && bytes.Contains(log, []byte("Address already in use")) {
				continue // the free port was taken in between
			}
			if cmd.ProcessState == nil {
				_ = cmd.Process.Kill()
				<-exited
			}
			t.Fatalf("nginx did not start: %v\n%s\n%s", err, out.String(), log)
		}
	}
}

// freePort is a loopback TCP port nobody listens on now (nginx cannot listen on :0).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(addr string, exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("nginx exited: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("nginx not listening after 10 s")
}

// upstreamCounter counts the requests that reach Glint, by kind and by URL.
type upstreamCounter struct {
	mu     sync.Mutex
	byURL  map[string]int
	byKind map[string]int
}

// directHeader marks the comparison player's requests, which go straight to Glint and
// are not counted.
const directHeader = "X-Glint-Test-Direct"

func (u *upstreamCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(directHeader) != "" {
			h.ServeHTTP(w, r)
			return
		}
		u.mu.Lock()
		u.byURL[r.URL.RequestURI()]++
		u.byKind[requestKind(r.URL.Path, r.URL.RawQuery)]++
		u.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (u *upstreamCounter) reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	clear(u.byURL)
	clear(u.byKind)
}

func (u *upstreamCounter) count(uri string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.byURL[uri]
}

type upstreamSnapshot struct {
	total    int
	byKind   map[string]int
	maxCount int
	maxURL   string
}

func (u *upstreamCounter) snapshot() upstreamSnapshot {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := upstreamSnapshot{byKind: map[string]int{}}
	for k, n := range u.byKind {
		s.byKind[k] = n
		s.total += n
	}
	for uri, n := range u.byURL {
		if k := requestKind(uri, ""); k != "plain" && k != "multivariant" && n > s.maxCount {
			s.maxCount, s.maxURL = n, uri
		}
	}
	return s
}

// requestKind classifies an LL-HLS request as the test counts it.
func requestKind(path, query string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, query = path[:i], path[i+1:]
	}
	switch {
	case strings.HasSuffix(path, "/index.m3u8"):
		return "multivariant"
	case strings.HasSuffix(path, ".m3u8") && strings.Contains(query, "_HLS_msn="):
		return "blocking"
	case strings.HasSuffix(path, ".m3u8"):
		return "plain"
	case strings.Contains(path, "_init"):
		return "init"
	case strings.Contains(path, "_seg"):
		return "segment"
	}
	return "part"
}

// clientStats is what a crowd of players saw.
type clientStats struct {
	mu     sync.Mutex
	byKind map[string]int
	cache  map[string]int
	parts  map[string]bool
	ages   []time.Duration
	errors []error
}

func (s *clientStats) record(kind string, resp *http.Response, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byKind == nil {
		s.byKind, s.cache, s.parts = map[string]int{}, map[string]int{}, map[string]bool{}
	}
	s.byKind[kind]++
	if err != nil {
		s.errors = append(s.errors, err)
		return
	}
	if x := resp.Header.Get("X-Cache"); x != "" {
		s.cache[x]++
	}
}

func (s *clientStats) snapshot() *clientStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &clientStats{byKind: map[string]int{}, cache: map[string]int{}, parts: map[string]bool{}}
	for k, v := range s.byKind {
		c.byKind[k] = v
	}
	for k, v := range s.cache {
		c.cache[k] = v
	}
	for k := range s.parts {
		c.parts[k] = true
	}
	c.ages = append(c.ages, s.ages...)
	c.errors = append(c.errors, s.errors...)
	return c
}

func (s *clientStats) total() int {
	n := 0
	for _, v := range s.byKind {
		n += v
	}
	return n
}

func (s *clientStats) ageSummary() string {
	if len(s.ages) == 0 {
		return "(none)"
	}
	a := append([]time.Duration(nil), s.ages...)
	sort.Slice(a, func(i, j int) bool { return a[i] < a[j] })
	r := func(p float64) time.Duration { return a[int(p*float64(len(a)-1))].Round(time.Millisecond) }
	return fmt.Sprintf("median %v, p90 %v, p99 %v, max %v (n=%d)", r(.5), r(.9), r(.99), r(1), len(a))
}

// follow plays one media playlist as an LL-HLS player does until ctx ends: a plain reload,
// the init file and the newest part, then a blocking reload for the next part and a GET
// of every part it has not fetched yet, again and again.
func follow(ctx context.Context, c *http.Client, base, rel string, stats *clientStats) {
	get := func(kind, path string) ([]byte, bool) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, false
		}
		resp, err := c.Do(req)
		if ctx.Err() != nil {
			if err == nil {
				resp.Body.Close()
			}
			return nil, false // the run is over: not a failure
		}
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return nil, false
		}
		stats.record(kind, resp, err)
		return body, err == nil
	}
	d := dir(rel)
	body, ok := get("plain", rel)
	if !ok {
		return
	}
	pl, err := parseMedia(body)
	if err != nil {
		stats.record("plain", nil, err)
		return
	}
	if _, ok := get("init", d+pl.Map.URI); !ok {
		return
	}
	fetched := map[string]bool{}
	newest := newestPart(pl)
	for _, uri := range partURIs(pl) {
		fetched[uri] = uri != newest // start at the live edge
	}
	for ctx.Err() == nil {
		for _, uri := range partURIs(pl) {
			if fetched[uri] {
				continue
			}
			fetched[uri] = true
			stats.mu.Lock()
			if stats.parts == nil {
				stats.parts = map[string]bool{}
			}
			stats.parts[d+uri] = true
			stats.mu.Unlock()
			if _, ok := get("part", d+uri); !ok {
				return
			}
		}
		msn, part := nextPart(pl)
		body, ok := get("blocking", blockingPath(rel, msn, part))
		if !ok {
			return
		}
		next, err := parseMedia(body)
		if err != nil {
			stats.record("blocking", nil, err)
			return
		}
		if end, ok := lastPartEnd(next); ok {
			stats.mu.Lock()
			stats.ages = append(stats.ages, time.Since(end))
			stats.mu.Unlock()
		}
		pl = next
	}
}

// partURIs are every part URI in a playlist, oldest first.
func partURIs(pl *playlist.Media) []string {
	var out []string
	for _, s := range pl.Segments {
		for _, p := range s.Parts {
			out = append(out, p.URI)
		}
	}
	for _, p := range pl.Parts {
		out = append(out, p.URI)
	}
	return out
}
