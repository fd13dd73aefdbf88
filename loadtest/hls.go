package loadtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// HLSConfig describes one LL-HLS run: Viewers players of one room's LL-HLS stream, each
// doing what hls.js does in low-latency mode, measured for Duration once they have joined.
type HLSConfig struct {
	// URL is the server's base URL (http://host:port): the multivariant playlist is
	// {URL}/hls/{Room}/index.m3u8, and with Publish the WHIP endpoint {URL}/whip/{Room}.
	URL, Room string
	// Token, when set, goes on the multivariant playlist as ?access_token=; the server
	// carries it into every URI it writes, and the viewers follow those URIs as given.
	Token    string
	Viewers  int
	Duration time.Duration
	// Variant is "top" (the highest BANDWIDTH, as a player with bandwidth to spare picks)
	// or a simulcast layer q, h or f: the variant whose URI is in that folder.
	Variant string
	// Audio also follows the variant's audio rendition, as a player does.
	Audio bool
	// RequestTimeout bounds every request, blocking ones included.
	RequestTimeout time.Duration
	// JoinConcurrency bounds the viewers joining at once.
	JoinConcurrency int
	// ServerPID, when not 0, is read from /proc for the server's CPU and memory.
	ServerPID int

	// Publish starts the WHIP publisher (the one `loadtest fanout` uses, its frames stamped
	// with their send time) on the room first, and stops it at the end; without it, the
	// frames are timed only if someone else publishes with the timing SEI.
	Publish      bool
	PublishToken string // bearer token for WHIP
	// PublishURL is the base URL of the server published to (default URL): on a cluster,
	// another node than the one whose LL-HLS is read.
	PublishURL string
	Clip       ClipSpec
	Simulcast  bool // publish three layers, q/h/f
	CacheDir   string

	// Progress receives a live status line per second (nil: none).
	Progress io.Writer
}

// Validate checks the run is bounded and well-formed.
func (c *HLSConfig) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("loadtest: --url %q: want the server's http(s) base URL", c.URL)
	case c.Room == "" || strings.ContainsAny(c.Room, "/?#"):
		return fmt.Errorf("loadtest: --room %q: want a room name", c.Room)
	case c.Viewers < 1 || c.Viewers > 20000:
		return fmt.Errorf("loadtest: viewers %d: want 1 to 20000", c.Viewers)
	case c.Duration < time.Second || c.Duration > time.Hour:
		return fmt.Errorf("loadtest: duration %s: want 1s to 1h", c.Duration)
	case c.Variant != "" && c.Variant != "top" && c.Variant != "q" && c.Variant != "h" && c.Variant != "f":
		return fmt.Errorf("loadtest: variant %q: want top, q, h or f", c.Variant)
	case c.RequestTimeout < time.Second || c.RequestTimeout > 2*time.Minute:
		return fmt.Errorf("loadtest: request timeout %s: want 1s to 2m", c.RequestTimeout)
	case c.JoinConcurrency < 1:
		return errors.New("loadtest: join concurrency must be at least 1")
	case c.ServerPID < 0:
		return fmt.Errorf("loadtest: server pid %d", c.ServerPID)
	case c.PublishURL != "" && !isHTTPURL(c.PublishURL):
		return fmt.Errorf("loadtest: --publish-url %q: want the published-to server's http(s) base URL", c.PublishURL)
	case c.Publish:
		return c.Clip.validate()
	}
	return nil
}

// base is URL without a trailing slash.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (c *HLSConfig) base() string { return strings.TrimRight(c.URL, "/") }

// indexURL is the multivariant playlist, with the token.
func (c *HLSConfig) indexURL() (*url.URL, error) {
	u, err := url.Parse(c.base() + "/hls/" + url.PathEscape(c.Room) + "/index.m3u8")
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	if c.Token != "" {
		u.RawQuery = url.Values{"access_token": {c.Token}}.Encode()
	}
	return u, nil
}

// HLS runs the test. Every request is bounded by RequestTimeout and every viewer stops at
// the end of Duration (or when ctx ends). It returns ErrNothingMeasured, with the report,
// when no viewer joined.
func HLS(ctx context.Context, cfg HLSConfig) (*HLSReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	index, err := cfg.indexURL()
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		// Every viewer has up to four requests in flight (a blocking playlist reload and a
		// preload-hinted part, for video and for audio): keep their connections alive.
		MaxIdleConnsPerHost: 4*cfg.Viewers + 8,
		IdleConnTimeout:     90 * time.Second,
		// HTTP/1.1 only: each viewer's requests use connections of their own, as separate
		// browsers do, rather than all of them sharing one HTTP/2 connection.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
		// hlsClient.get asks for gzip itself and decompresses with a reused reader.
		DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	h := &hlsRun{cfg: cfg, index: index, c: &hlsClient{http: &http.Client{Transport: tr}, timeout: cfg.RequestTimeout, st: &hlsStats{}}}
	if cfg.Publish {
		pub, err := h.publish(ctx)
		if err != nil {
			return nil, err
		}
		defer pub.close()
		h.pub = pub
	}
	return h.run(ctx)
}

// hlsRun is the state of one LL-HLS run.
type hlsRun struct {
	cfg   HLSConfig
	index *url.URL
	c     *hlsClient
	pub   *stream // with Publish

	connected, failed atomic.Int64
	first             sync.Once // the first viewer to join sets what the report names
	variant, audio    string
	partTarget        time.Duration
	firstErr          sync.Once
	firstError        string
	viewers           sync.WaitGroup // the followers' loops
}

// publish starts the WHIP publisher on the room and waits until the room's multivariant
// playlist is served (the muxer needs a segment or two first).
func (h *hlsRun) publish(ctx context.Context) (*stream, error) {
	clips, err := loadClips(ctx, h.cfg.Clip, h.cfg.Simulcast, h.cfg.CacheDir)
	if err != nil {
		return nil, err
	}
	base := h.cfg.base()
	if h.cfg.PublishURL != "" {
		base = strings.TrimRight(h.cfg.PublishURL, "/")
	}
	whip := base + "/whip/" + url.PathEscape(h.cfg.Room)
	api, err := newAPI(whip, nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	pub, err := publish(ctx, api, client, whip, h.cfg.PublishToken, clips)
	if err != nil {
		return nil, fmt.Errorf("loadtest: publish: %w", err)
	}
	if err := h.waitLive(ctx, pub, 30*time.Second); err != nil {
		pub.close()
		return nil, err
	}
	return pub, nil
}

// waitLive polls the multivariant playlist until it is served, for at most limit, or until
// the publisher fails.
func (h *hlsRun) waitLive(ctx context.Context, pub *stream, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	probe := &hlsClient{http: h.c.http, timeout: 5 * time.Second, st: &hlsStats{}} // not counted
	for {
		_, _, err := probe.get(ctx, "multivariant", h.index, maxPlaylistBytes, nil)
		if err == nil {
			return nil
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("loadtest: %s not served %s after publishing: %w", redact(h.index), limit, err)
		case <-t.C:
		}
		if err := pub.failed(); err != nil {
			return err
		}
	}
}

func (h *hlsRun) run(ctx context.Context) (*HLSReport, error) {
	watch := watchServer(h.cfg.ServerPID)
	defer watch.stop()
	base := readNow(h.cfg.ServerPID)
	rep := &HLSReport{Target: redact(h.index), Viewers: h.cfg.Viewers, Started: time.Now(), StallRule: stallRule}

	following, stop := context.WithCancel(ctx)
	defer func() { stop(); h.viewers.Wait() }()
	h.joinAll(following)
	rep.JoinS = time.Since(rep.Started).Seconds()
	if h.connected.Load() == 0 {
		h.fill(rep, hlsCounters{}, hlsCounters{}, base, watch)
		return rep, ErrNothingMeasured
	}

	h.c.st.frames.Reset()
	h.c.st.partFirst.Reset()
	a := h.snapshot()
	h.measure(ctx, a)
	// The window ends here: what the viewers add while they stop is not counted, except the
	// stalls under way, which they count as they stop.
	b := h.snapshot()
	rep.Latency, rep.PartLatency = latencyOf(&h.c.st.frames), latencyOf(&h.c.st.partFirst)
	stop()
	h.viewers.Wait()
	b.stallCounters(h.c.st)
	h.fill(rep, a, b, base, watch)
	if h.pub != nil {
		if err := h.pub.failed(); err != nil {
			return rep, err
		}
	}
	return rep, ctx.Err()
}

// joinAll joins every viewer, JoinConcurrency at once; each starts following as soon as it
// has joined. A viewer that cannot join is counted, not fatal: a server refusing viewers at
// its limit is a result.
func (h *hlsRun) joinAll(ctx context.Context) {
	sem := make(chan struct{}, h.cfg.JoinConcurrency)
	var wg sync.WaitGroup
	for range h.cfg.Viewers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := h.join(ctx)
			<-sem
			if err != nil {
				h.failed.Add(1)
				h.firstErr.Do(func() {
					h.firstError = err.Error()
					h.say("viewer failed to join: %v\n", err)
				})
				return
			}
			h.connected.Add(1)
		}()
	}
	wg.Wait()
}

// join is one viewer arriving: the multivariant playlist (retried as the server asks when it
// answers 503 or 429), the chosen variant's media playlist and init section, and the audio
// rendition's; then it follows both until ctx ends. Bounded: 30 s.
func (h *hlsRun) join(ctx context.Context) error {
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	mv, err := retrying(jctx, maxDialAttempts, h.multivariant, nil)
	if err != nil {
		return err
	}
	v, err := pickVariant(mv, h.cfg.Variant)
	if err != nil {
		return fmt.Errorf("%s: %w", redact(h.index), err)
	}
	vu, err := h.index.Parse(v.URI)
	if err != nil {
		return err
	}
	video := newFollower(h.c, vu)
	if err := video.join(jctx); err != nil {
		return err
	}
	followers := []*follower{video}
	audio := ""
	if uri := audioRendition(mv, v); h.cfg.Audio && uri != "" {
		au, err := h.index.Parse(uri)
		if err != nil {
			return err
		}
		f := newFollower(h.c, au)
		if err := f.join(jctx); err != nil {
			return fmt.Errorf("audio rendition (--audio=false to skip it): %w", err)
		}
		followers, audio = append(followers, f), redact(au)
	}
	h.first.Do(func() { h.variant, h.audio, h.partTarget = redact(vu), audio, video.partTarget })
	for _, f := range followers {
		h.viewers.Add(1)
		go func() { defer h.viewers.Done(); f.run(ctx) }()
	}
	return nil
}

// multivariant fetches and parses the multivariant playlist; a 503 or 429 comes back as a
// retryError, so that retrying waits the server's Retry-After.
func (h *hlsRun) multivariant(ctx context.Context) (*playlist.Multivariant, error) {
	body, _, err := h.c.get(ctx, "multivariant", h.index, maxPlaylistBytes, nil)
	var he *httpError
	if errors.As(err, &he) && (he.status == http.StatusServiceUnavailable || he.status == http.StatusTooManyRequests) {
		return nil, &retryError{err: err, status: he.status, after: he.after}
	}
	if err != nil {
		return nil, err
	}
	var mv playlist.Multivariant
	if err := mv.Unmarshal(body); err != nil {
		h.c.st.fail("multivariant unparsable")
		return nil, fmt.Errorf("%s: %w", redact(h.index), err)
	}
	return &mv, nil
}

// measure waits out Duration, printing a status line every second.
func (h *hlsRun) measure(ctx context.Context, last hlsCounters) {
	end := time.NewTimer(h.cfg.Duration)
	defer end.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-end.C:
			h.say("\n")
			return
		case <-tick.C:
		}
		if h.cfg.Progress == nil {
			continue
		}
		cur := h.snapshot()
		secs := cur.at.Sub(last.at).Seconds()
		line := fmt.Sprintf("\rhls: %d viewers  %.0f parts/s  %.0f req/s  %.1f Mbit/s  latency p50 %s p99 %s  stalls %d  client CPU %.0f%%",
			h.connected.Load(), float64(cur.parts-last.parts)/secs, float64(cur.requests-last.requests)/secs,
			float64(cur.bytes-last.bytes)*8/1e6/secs, ms(h.c.st.frames.Quantile(0.5)), ms(h.c.st.frames.Quantile(0.99)),
			cur.stalls, cpuPercent(last.self, cur.self))
		if cur.hasServer && last.hasServer {
			line += fmt.Sprintf("  server CPU %.0f%%", cpuPercent(last.server, cur.server))
		}
		h.say("%s   ", line)
		last = cur
	}
}

func (h *hlsRun) say(format string, args ...any) {
	if h.cfg.Progress != nil {
		fmt.Fprintf(h.cfg.Progress, format, args...)
	}
}
