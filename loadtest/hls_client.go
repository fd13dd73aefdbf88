package loadtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// Bounds on what a server may send: a playlist, and a part or init section.
const (
	maxPlaylistBytes = 1 << 20
	maxPartBytes     = 32 << 20
)

// stallParts is the stall rule: a viewer that got no new part for more than stallParts ×
// PART-TARGET has stalled (hls.js keeps a few parts buffered at the live edge; three
// missing parts is a visible freeze).
const stallParts = 3

// hlsStats are the counters every viewer adds to; the reporter reads them while the
// viewers run.
type hlsStats struct {
	// Latency of every timed frame, and of the first (oldest) frame of each part.
	frames, partFirst Histogram
	parts             atomic.Uint64 // new video parts downloaded at the live edge
	requests, bytes   atomic.Uint64 // every response, any status; body bytes as sent (gzipped)
	stalls            atomic.Uint64
	stallNanos        atomic.Int64
	stallMax          atomic.Int64

	mu     sync.Mutex
	errors map[string]uint64 // "playlist 404", "part timeout", ...
}

func (s *hlsStats) fail(key string) {
	s.mu.Lock()
	if s.errors == nil {
		s.errors = make(map[string]uint64)
	}
	s.errors[key]++
	s.mu.Unlock()
}

func (s *hlsStats) errorCounts() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64, len(s.errors))
	for k, v := range s.errors {
		out[k] = v
	}
	return out
}

func (s *hlsStats) stall(gap time.Duration) {
	s.stalls.Add(1)
	s.stallNanos.Add(int64(gap))
	for m := s.stallMax.Load(); int64(gap) > m && !s.stallMax.CompareAndSwap(m, int64(gap)); m = s.stallMax.Load() {
	}
}

// hlsClient is what every viewer shares: one HTTP client and the counters.
type hlsClient struct {
	http    *http.Client
	timeout time.Duration // per request, blocking ones included
	st      *hlsStats
}

// httpError is a response other than 200.
type httpError struct {
	status int
	after  time.Duration // Retry-After, for 429 and 503
	url    string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("GET %s: %d %s", e.url, e.status, http.StatusText(e.status))
}

// get fetches u and returns its body (in buf, reused, when buf is not nil: valid until its
// next use) and when the download completed. kind ("playlist", "part", ...) files failures
// under "kind status". A failure because ctx (the run) ended is not counted: the run
// cancels the requests it has in flight when it stops.
func (c *hlsClient) get(ctx context.Context, kind string, u *url.URL, limit int64, buf *bytes.Buffer) ([]byte, time.Time, error) {
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	// Asked for here, not by the transport, so that the decompressor is reused (readBody).
	req.Header["Accept-Encoding"] = acceptGzip
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, time.Time{}, c.failed(ctx, kind, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		c.st.requests.Add(1)
		c.st.fail(kind + " " + strconv.Itoa(resp.StatusCode))
		return nil, time.Time{}, &httpError{status: resp.StatusCode, after: retryAfter(resp.Header.Get("Retry-After")), url: redact(u)}
	}
	enc := resp.Header.Get("Content-Encoding")
	gzipped, ok := contentEncoding(enc)
	if !ok {
		c.st.requests.Add(1)
		c.st.fail(kind + " Content-Encoding " + enc)
		return nil, time.Time{}, fmt.Errorf("GET %s: Content-Encoding %q: asked for gzip or none", redact(u), enc)
	}
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	wire := &countingReader{r: resp.Body}
	err = readBody(buf, wire, gzipped, limit)
	body := buf.Bytes()
	done := time.Now()
	c.st.bytes.Add(uint64(wire.n))
	if err != nil {
		return nil, time.Time{}, c.failed(ctx, kind, err)
	}
	c.st.requests.Add(1)
	if int64(len(body)) > limit {
		c.st.fail(kind + " too large")
		return nil, time.Time{}, fmt.Errorf("GET %s: more than %d bytes", redact(u), limit)
	}
	return body, done, nil
}

var acceptGzip = []string{"gzip"}

// gzipReaders are reused: the transport's own gzip support makes a new decompressor, about
// 40 KB, for each of the thousands of playlists a second a run reads.
var gzipReaders sync.Pool

// contentEncoding reports whether a response's Content-Encoding is gzip, and whether it is
// one the client asked for (gzip, or none).
func contentEncoding(header string) (gzipped, ok bool) {
	switch strings.ToLower(header) {
	case "", "identity":
		return false, true
	case "gzip":
		return true, true
	}
	return false, false
}

// readBody reads a body into buf, decompressed when the server gzipped it, failing when it
// holds more than limit bytes (decompressed).
func readBody(buf *bytes.Buffer, body io.Reader, gzipped bool, limit int64) error {
	if gzipped {
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(body)
		} else {
			err = zr.Reset(body)
		}
		if err != nil {
			return err
		}
		defer gzipReaders.Put(zr)
		body = zr
	}
	_, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	return err
}

// countingReader counts the bytes read through it: a body's size on the wire.
type countingReader struct {
	r io.Reader
	n int
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n += n
	return n, err
}

// failed files a transport failure (timeout or network) unless the run is over.
func (c *hlsClient) failed(ctx context.Context, kind string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.st.requests.Add(1)
	if errors.Is(err, context.DeadlineExceeded) {
		c.st.fail(kind + " timeout")
	} else {
		c.st.fail(kind + " network")
	}
	return err
}

// redact drops the query (it holds the access token) from a URL shown in errors and reports.
func redact(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	return c.String()
}

// pickVariant chooses the variant a player would: the highest BANDWIDTH ("top" or ""), or
// the one for a simulcast layer (q, h or f), which is the folder its URI names
// (f/video1_stream.m3u8).
func pickVariant(mv *playlist.Multivariant, layer string) (*playlist.MultivariantVariant, error) {
	var best *playlist.MultivariantVariant
	for _, v := range mv.Variants {
		switch {
		case layer == "" || layer == "top":
			if best == nil || v.Bandwidth > best.Bandwidth {
				best = v
			}
		case uriLayer(v.URI) == layer:
			return v, nil
		}
	}
	if best == nil {
		var uris []string
		for _, v := range mv.Variants {
			uris = append(uris, v.URI)
		}
		return nil, fmt.Errorf("no variant for layer %q among %q", layer, uris)
	}
	return best, nil
}

// uriLayer is the last folder of a URI's path: "f" for f/video1_stream.m3u8?access_token=T.
func uriLayer(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return path.Base(path.Dir(u.Path))
}

// audioRendition is the URI of the audio a player loads beside variant v: the default (else
// the first) AUDIO rendition of v's group that has a URI of its own; "" when the audio is
// in the variant's own playlist or there is none.
func audioRendition(mv *playlist.Multivariant, v *playlist.MultivariantVariant) string {
	uri := ""
	for _, r := range mv.Renditions {
		if r.Type != playlist.MultivariantRenditionTypeAudio || r.GroupID != v.Audio || r.URI == nil {
			continue
		}
		if r.Default {
			return *r.URI
		}
		if uri == "" {
			uri = *r.URI
		}
	}
	return uri
}

// follower plays one media playlist as hls.js does in low-latency mode: it asks for the
// preload-hinted part (which the server answers when the part is complete) and, at the
// same time, for the playlist that lists it (_HLS_msn/_HLS_part, a blocking reload), then
// downloads every part listed that it does not have yet, once.
type follower struct {
	c   *hlsClient
	url *url.URL // the media playlist, with the query the server gave it

	// pl is the playlist followed, when following; loaded is where a reload is read.
	pl, loaded mediaPlaylist
	following  bool
	partTarget time.Duration
	mapURI     string       // the init section loaded
	video      map[int]bool // H.264 track IDs: parts are timed, stalls counted
	// seen holds the parts downloaded (or skipped at a join), by URI as the playlist writes
	// it; uris interns those URIs, so a reload allocates only for the parts new in it.
	seen     map[string]bool
	uris     map[string]string
	lastPart time.Time // completion of the last new part (the join, before the first)
	stamps   []frameStamp
	// Bodies, reused: one playlist and one part are in flight at a time (the preload-hint
	// part is fetched beside the blocking reload; listed parts after it).
	plBuf, partBuf bytes.Buffer
	query          []byte // a blocking reload's query, reused
}

func newFollower(c *hlsClient, u *url.URL) *follower {
	return &follower{c: c, url: u, seen: make(map[string]bool), uris: make(map[string]string)}
}

// intern is the string for a URI's bytes, the one made when the URI was first seen.
func (f *follower) intern(b []byte) string {
	if s, ok := f.uris[string(b)]; ok {
		return s
	}
	s := string(b)
	f.uris[s] = s
	return s
}

// timed reports whether this playlist's parts are timed and its stalls counted (video).
func (f *follower) timed() bool { return len(f.video) > 0 }

// join loads the playlist and its init section, and downloads the parts a player starting
// at the live edge needs (from the last independent part on). Those are not timed: they
// were complete before the viewer came.
func (f *follower) join(ctx context.Context) error {
	if err := f.load(ctx, -1, 0); err != nil {
		return err
	}
	if why := f.loaded.lowLatency(); why != "" {
		return fmt.Errorf("%s: %s", redact(f.url), why)
	}
	if err := f.loadInit(ctx); err != nil {
		return err
	}
	// PART-TARGET must not change (RFC 8216bis 4.4.3.7); a muxer that lengthens it after a
	// long part (gohlslib does) would otherwise loosen the stall rule just after a stall.
	f.partTarget = f.loaded.partTarget
	f.startAt(ctx)
	f.lastPart = time.Now()
	return nil
}

// startAt takes the playlist just loaded as the one to follow, starting where a player
// joining (or rejoining after an error) the live edge does: at the last independent part,
// the first it can decode. The parts before are skipped, the ones from it on downloaded but
// not timed: they were complete before the viewer asked.
func (f *follower) startAt(ctx context.Context) {
	f.take()
	parts := f.pl.parts
	from := len(parts)
	for i, p := range parts {
		if p.independent {
			from = i
		}
	}
	for _, p := range parts[:from] {
		f.seen[p.uri] = true
	}
	for _, p := range parts[from:] {
		if !f.seen[p.uri] {
			f.download(ctx, p.uri, false)
		}
	}
}

// take makes the playlist just loaded the one followed (the old one's slices are reused by
// the next reload).
func (f *follower) take() {
	f.pl, f.loaded = f.loaded, f.pl
	f.following = true
}

// run follows the live edge until ctx ends, then counts a stall still under way.
func (f *follower) run(ctx context.Context) {
	for ctx.Err() == nil {
		if !f.following {
			err := f.load(ctx, -1, 0)
			if err == nil {
				err = f.loadInit(ctx)
			}
			if err != nil {
				f.backOff(ctx, err)
				continue
			}
			f.startAt(ctx)
			continue
		}
		msn, part := f.pl.next()
		var wg sync.WaitGroup
		if hint := f.pl.hint; hint != "" && !f.seen[hint] {
			wg.Add(1)
			go func() { defer wg.Done(); f.download(ctx, hint, true) }()
		}
		err := f.load(ctx, msn, part)
		wg.Wait()
		if err == nil {
			err = f.loadInit(ctx)
		}
		if err != nil {
			f.backOff(ctx, err)
			continue
		}
		f.take()
		f.fetchListed(ctx)
		if m, p := f.pl.next(); m == msn && p == part {
			// The server answered without the part asked for: it did not block. Wait half
			// a part, as a player polling would, rather than ask again at once.
			f.sleep(ctx, f.partTarget/2)
		}
	}
	f.finish(time.Now())
}

// finish counts the gap since the last part as a stall if it is one, at the run's end.
func (f *follower) finish(end time.Time) {
	if f.timed() && !f.lastPart.IsZero() {
		if gap := end.Sub(f.lastPart); gap > stallParts*f.partTarget {
			f.c.st.stall(gap)
		}
	}
}

// backOff waits after a failed playlist request, as a player does: a server at its limit
// says how long (503/429 Retry-After); a blocking request too far ahead (400), a stream
// gone (404) or a server error start again from a plain reload; a timeout or network
// error retries the same request after a part's time.
func (f *follower) backOff(ctx context.Context, err error) {
	wait := max(f.partTarget, 100*time.Millisecond)
	var he *httpError
	if errors.As(err, &he) {
		switch {
		case he.status == http.StatusServiceUnavailable || he.status == http.StatusTooManyRequests:
			wait = he.after
		case he.status == http.StatusNotFound || he.status >= 500:
			f.following, wait = false, time.Second
		default:
			f.following = false
		}
	} else if !errors.Is(err, context.DeadlineExceeded) {
		f.following = false // unparsable, or the connection failed: start again
	}
	f.sleep(ctx, wait)
}

// sleep waits d, or until ctx ends.
func (f *follower) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// load fetches the media playlist into f.loaded; with msn >= 0, the blocking reload that
// returns once part (msn, part) is listed. The query is added after the server's own, as
// hls.js does.
func (f *follower) load(ctx context.Context, msn, part int) error {
	u := *f.url
	if msn >= 0 {
		q := append(f.query[:0], u.RawQuery...)
		if len(q) > 0 {
			q = append(q, '&')
		}
		q = append(q, "_HLS_msn="...)
		q = strconv.AppendInt(q, int64(msn), 10)
		q = append(q, "&_HLS_part="...)
		q = strconv.AppendInt(q, int64(part), 10)
		f.query, u.RawQuery = q, string(q)
	}
	body, _, err := f.c.get(ctx, "playlist", &u, maxPlaylistBytes, &f.plBuf)
	if err != nil {
		return err
	}
	if err := parseMedia(body, &f.loaded, f.intern); err != nil {
		f.c.st.fail("playlist unparsable")
		return fmt.Errorf("%s: %w", redact(f.url), err)
	}
	return nil
}

// loadInit fetches the init section of the playlist just loaded when it names a new one,
// and learns from it which tracks are H.264.
func (f *follower) loadInit(ctx context.Context) error {
	uri := f.loaded.mapURI
	if uri == "" || uri == f.mapURI {
		return nil
	}
	u, err := f.url.Parse(uri)
	if err != nil {
		return err
	}
	body, _, err := f.c.get(ctx, "init", u, maxPartBytes, nil)
	if err != nil {
		return err
	}
	video, err := h264Tracks(body)
	if err != nil {
		f.c.st.fail("init unparsable")
		return fmt.Errorf("%s: %w", redact(u), err)
	}
	f.mapURI, f.video = uri, video
	return nil
}

// fetchListed downloads, in order, every listed part not downloaded yet, and forgets parts
// the playlist no longer lists.
func (f *follower) fetchListed(ctx context.Context) {
	parts := f.pl.parts
	for _, p := range parts {
		if !f.seen[p.uri] && ctx.Err() == nil {
			f.download(ctx, p.uri, true)
		}
	}
	if len(f.uris) > 2*len(parts)+8 {
		seen := make(map[string]bool, len(parts)+1)
		uris := make(map[string]string, len(parts)+1)
		for _, p := range parts {
			seen[p.uri], uris[p.uri] = f.seen[p.uri], p.uri
		}
		f.seen, f.uris = seen, uris
	}
}

// download fetches one part. A new part at the live edge (live) counts for the stall rule
// and, on video, each of its timed frames is recorded: download completed − sent.
func (f *follower) download(ctx context.Context, uri string, live bool) {
	u, err := f.url.Parse(uri)
	if err != nil {
		return
	}
	body, done, err := f.c.get(ctx, "part", u, maxPartBytes, &f.partBuf)
	if err != nil {
		return
	}
	f.seen[uri] = true
	if !live || !f.timed() {
		return
	}
	st := f.c.st
	st.parts.Add(1)
	if gap := done.Sub(f.lastPart); gap > stallParts*f.partTarget {
		st.stall(gap)
	}
	f.lastPart = done
	f.stamps, err = partFrames(body, f.video, f.stamps[:0])
	if err != nil {
		st.fail("part unparsable")
		return
	}
	for i, s := range f.stamps {
		d := done.Sub(time.Unix(0, s.sent))
		st.frames.Record(d)
		if i == 0 {
			st.partFirst.Record(d)
		}
	}
}
