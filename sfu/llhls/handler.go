package llhls

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/sfu"
)

// Authorizer checks that a request may watch room (a canSubscribe token, or anonymous
// viewing); it returns the HTTP status and error to answer with when it may not.
type Authorizer func(r *http.Request, room string) (int, error)

// Cache lifetimes. Parts, segments and init files never change at their URL (each stream
// start has its own random prefix); a playlist answering a blocking request for a given
// part is final too, so a CDN can keep it until that part leaves the window.
const (
	immutableCache  = "public, max-age=3600, immutable"
	blockingCache   = "public, max-age=6"
	playlistCache   = "public, max-age=0, s-maxage=0, must-revalidate"
	multivariantMax = "public, max-age=1"
	errorCache      = "no-store"
	playlistMIME    = "application/vnd.apple.mpegurl"
	maxQueryBytes   = 2048
)

// Handler serves GET /hls/{room}/index.m3u8 and /hls/{room}/{layer}/{file}.
func (o *Origin) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hls/{room}/index.m3u8", o.serveMultivariant)
	mux.HandleFunc("GET /hls/{room}/{layer}/{file}", o.serveVariant)
	mux.HandleFunc("OPTIONS /hls/", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	// Any other path is a 404 a CDN must not keep either (ServeMux's own has no Cache-Control).
	mux.HandleFunc("GET /hls/", func(w http.ResponseWriter, _ *http.Request) { o.fail(w, "other", ErrNotFound) })
	return cors(mux)
}

// cors lets players on any origin read the stream (no cookies are used: tokens travel in
// the query), and lets them read the headers a player or an SDK needs.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "Range, Authorization")
		hd.Set("Access-Control-Expose-Headers", "ETag, Content-Length, Content-Range, Age, Date")
		hd.Set("Access-Control-Max-Age", "600")
		h.ServeHTTP(w, r)
	})
}

// open authorises a request and returns the room's stream.
func (o *Origin) open(w http.ResponseWriter, r *http.Request, kind string) (*stream, bool) {
	if !o.cfg.Enabled {
		o.fail(w, kind, ErrDisabled)
		return nil, false
	}
	room := r.PathValue("room")
	if !roomname.Valid(room) {
		o.fail(w, kind, ErrNoRoom)
		return nil, false
	}
	if len(r.URL.RawQuery) > maxQueryBytes {
		o.fail(w, kind, fmt.Errorf("%w: query longer than %d bytes", ErrBadQuery, maxQueryBytes))
		return nil, false
	}
	if o.authorize != nil {
		if code, err := o.authorize(r, room); err != nil {
			requests.WithLabelValues(kind, strconv.Itoa(code)).Inc()
			w.Header().Set("Cache-Control", errorCache)
			http.Error(w, err.Error(), code)
			return nil, false
		}
	}
	st, err := o.stream(room)
	if err != nil {
		o.fail(w, kind, err)
		return nil, false
	}
	return st, true
}

func (o *Origin) fail(w http.ResponseWriter, kind string, err error) {
	code := status(err)
	requests.WithLabelValues(kind, strconv.Itoa(code)).Inc()
	w.Header().Set("Cache-Control", errorCache)
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, err.Error(), code)
}

func (o *Origin) serveMultivariant(w http.ResponseWriter, r *http.Request) {
	st, ok := o.open(w, r, "multivariant")
	if !ok {
		return
	}
	defer st.leave()
	ctx, cancel := context.WithTimeout(r.Context(), o.cfg.StartTimeout)
	defer cancel()
	for st.variant(sfu.LayerFull) == nil && st.variant(1) == nil && st.variant(0) == nil {
		select {
		case <-st.edge.wait():
			if st.stopping() {
				o.fail(w, "multivariant", ErrClosed)
				return
			}
		case <-ctx.Done():
			o.fail(w, "multivariant", ErrStarting)
			return
		}
	}
	st.awaitLayers(ctx)
	body, err := st.multivariant()
	if err != nil {
		o.fail(w, "multivariant", err)
		return
	}
	o.servePlaylist(w, r, "multivariant", newSnapshot(body), multivariantMax)
}

func (o *Origin) serveVariant(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	kind := "part"
	switch {
	case strings.HasSuffix(file, ".m3u8"):
		kind = "playlist"
	case strings.Contains(file, "_seg"):
		kind = "segment"
	case strings.HasSuffix(file, "_init.mp4"):
		kind = "init"
	}
	layer, err := sfu.ParseLayer(r.PathValue("layer"))
	if err != nil || r.PathValue("layer") == "" {
		o.fail(w, kind, ErrNotFound)
		return
	}
	st, ok := o.open(w, r, kind)
	if !ok {
		return
	}
	defer st.leave()
	v := st.variant(layer)
	if v == nil && kind == "playlist" {
		// Between a variant and the next (continuity) the playlist waits, as for a part to come.
		v = st.awaitVariant(r.Context(), layer, o.cfg.blockTimeout())
	}
	if v == nil {
		o.fail(w, kind, fmt.Errorf("%w: the room has no layer %s now", ErrNotFound, sfu.LayerName(layer)))
		return
	}
	if kind == "playlist" {
		o.players.saw(r.PathValue("room"), r, time.Now())
		o.serveMedia(w, r, st, v, file)
		return
	}
	o.serveObject(w, r, st, v, kind, file)
}

// serveMedia answers a media playlist request, blocking while the requested part does not
// exist yet (RFC 8216bis 6.2.5.2), at most three target durations.
func (o *Origin) serveMedia(w http.ResponseWriter, r *http.Request, st *stream, v *variant, file string) {
	if _, ok := v.snaps[file]; !ok {
		o.fail(w, "playlist", ErrNotFound) // audio2_stream.m3u8 of a variant without audio
		return
	}
	q := r.URL.Query()
	msn, part, blocking, err := blockingQuery(q)
	if err != nil {
		o.fail(w, "playlist", err)
		return
	}
	kind, cache := "playlist", playlistCache
	if blocking {
		kind, cache = "blocking", blockingCache
		if snap := v.snapshot(file); snap != nil && snap.tooFar(msn, part) {
			o.fail(w, kind, fmt.Errorf("%w: asked for part %d of segment %d, the live edge is part %d of segment %d", ErrFarFuture, part, msn, snap.lastPart, snap.msn))
			return
		}
	}
	start := time.Now()
	snap, err := o.awaitPlaylist(r.Context(), st, v, file, func(s *snapshot) bool { return !blocking || s.has(msn, part) })
	if blocking {
		blockingWaits.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		o.fail(w, kind, err)
		return
	}
	o.servePlaylist(w, r, kind, snap, cache)
}

// awaitPlaylist waits for file's playlist to have what want asks (any rendering, or the
// part a blocking request names). When the variant restarts meanwhile the wait goes on in
// the next one, whose playlists take up the media sequence (continuity), all within one
// blocking timeout.
func (o *Origin) awaitPlaylist(ctx context.Context, st *stream, v *variant, file string, want func(*snapshot) bool) (*snapshot, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, o.cfg.blockTimeout(), ErrTimeout)
	defer cancel()
	timedOut := func(err error) error {
		if errors.Is(context.Cause(ctx), ErrTimeout) {
			return ErrTimeout
		}
		return err
	}
	for {
		snap, err := o.await(ctx, st, v, func() (*snapshot, bool) {
			s := v.snapshot(file)
			return s, s != nil && want(s)
		})
		if !errors.Is(err, ErrRestarted) {
			if err != nil {
				err = timedOut(err)
			}
			return snap, err
		}
		next := st.awaitVariant(ctx, v.layer, o.cfg.blockTimeout())
		if next == nil || next == v {
			return nil, timedOut(ErrRestarted)
		}
		if _, ok := next.snaps[file]; !ok {
			return nil, ErrRestarted // the next variant has no such playlist (no audio)
		}
		v = next
	}
}

// await waits until ready reports true, the stream ends, v restarts (the host changed
// resolution: its parts will never come), or the blocking timeout passes. Waiters wait on
// their variant's own edge, so a part of one layer does not wake the viewers of the others.
func (o *Origin) await(ctx context.Context, st *stream, v *variant, ready func() (*snapshot, bool)) (*snapshot, error) {
	timer := time.NewTimer(o.cfg.blockTimeout())
	defer timer.Stop()
	for {
		wake := v.changed.wait() // taken before the check, so a change in between is not missed
		if s, ok := ready(); ok {
			return s, nil
		}
		if st.stopping() {
			return nil, ErrClosed
		}
		if v.closed.Load() {
			return nil, ErrRestarted
		}
		select {
		case <-wake:
		case <-timer.C:
			return nil, ErrTimeout
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// blockingQuery reads _HLS_msn and _HLS_part. _HLS_skip is accepted and ignored (no
// delta updates are offered, so the full playlist is the right answer).
func blockingQuery(q url.Values) (msn, part int, blocking bool, err error) {
	ms, ps := q.Get("_HLS_msn"), q.Get("_HLS_part")
	if ms == "" {
		if ps != "" {
			return 0, 0, false, fmt.Errorf("%w: _HLS_part without _HLS_msn", ErrBadQuery)
		}
		return 0, 0, false, nil
	}
	m, err := strconv.ParseUint(ms, 10, 31)
	if err != nil {
		return 0, 0, false, fmt.Errorf("%w: _HLS_msn %q", ErrBadQuery, ms)
	}
	p := uint64(0)
	if ps != "" {
		if p, err = strconv.ParseUint(ps, 10, 31); err != nil {
			return 0, 0, false, fmt.Errorf("%w: _HLS_part %q", ErrBadQuery, ps)
		}
	}
	return int(m), int(p), true, nil
}

// servePlaylist writes a playlist with its query carried into its URIs, gzip when the
// client takes it, and an ETag.
func (o *Origin) servePlaylist(w http.ResponseWriter, r *http.Request, kind string, snap *snapshot, cache string) {
	snap = snap.withQuery(carriedQuery(r.URL.Query()))
	h := w.Header()
	h.Set("Content-Type", playlistMIME)
	h.Set("Cache-Control", cache)
	h.Set("ETag", snap.etag)
	h.Set("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && match == snap.etag {
		requests.WithLabelValues(kind, "304").Inc()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	requests.WithLabelValues(kind, "200").Inc()
	body := snap.body
	if acceptsGzip(r) && len(body) > 512 {
		h.Set("Content-Encoding", "gzip")
		body = snap.gzipped()
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// serveObject serves an init file, part or segment; a request for the part being written
// (the preload hint) or the one after it waits for it.
func (o *Origin) serveObject(w http.ResponseWriter, r *http.Request, st *stream, v *variant, kind, file string) {
	if body, ok := v.tailObject(file); ok { // a file of the variant this one replaced, still listed
		o.writeObject(w, r, kind, file, body)
		return
	}
	if n, ok := partNumber(file); ok && kind == "part" {
		snap := v.snapshot(videoPlaylist)
		if n > snap.hintPart+3 {
			o.fail(w, kind, fmt.Errorf("%w: part %d is far ahead of the live edge (%d)", ErrFarFuture, n, snap.hintPart))
			return
		}
		if n >= snap.hintPart {
			start := time.Now()
			playlistFile := videoPlaylist
			if strings.Contains(file, "_audio") {
				playlistFile = audioPlaylist
			}
			_, err := o.await(r.Context(), st, v, func() (*snapshot, bool) {
				s := v.snapshot(playlistFile)
				return s, s != nil && s.hintPart > n
			})
			blockingWaits.Observe(time.Since(start).Seconds())
			if err != nil {
				o.fail(w, kind, err)
				return
			}
		}
	}
	body, ok := v.object(file)
	if !ok {
		o.fail(w, kind, ErrNotFound)
		return
	}
	o.writeObject(w, r, kind, file, body)
}

// writeObject writes an init file, part or segment: immutable, Range answered.
func (o *Origin) writeObject(w http.ResponseWriter, r *http.Request, kind, file string, body []byte) {
	requests.WithLabelValues(kind, "200").Inc()
	h := w.Header()
	h.Set("Content-Type", "video/mp4")
	if strings.Contains(file, "_audio") {
		h.Set("Content-Type", "audio/mp4")
	}
	h.Set("Cache-Control", immutableCache)
	h.Set("ETag", `"`+file+`"`)
	// ServeContent answers Range and If-None-Match.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// carriedQuery is the request's query minus the blocking-reload parameters: what the
// player was given (the access token) and must send again for every URI.
func carriedQuery(q url.Values) string {
	for k := range q {
		if strings.HasPrefix(k, "_HLS_") {
			q.Del(k)
		}
	}
	return q.Encode()
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(part, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}
