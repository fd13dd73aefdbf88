package llhls

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// stableFor is how long TestPlaylistStable reloads (the figure).
const stableFor = 60 * time.Second

// TestPlaylistStable reloads every media playlist of a simulcast room with audio (three
// video and three audio playlists), alternating plain and blocking reloads, for a minute,
// and fails if what a player relies on ever breaks: PART-TARGET, PART-HOLD-BACK and
// TARGETDURATION never change, no part is longer than PART-TARGET, PART-HOLD-BACK is at
// least three part targets, every segment has a PROGRAM-DATE-TIME, and the preload hint
// and rendition reports are always there. The host's frame timestamps jitter by ±1 ms, as
// a browser's do.
func TestPlaylistStable(t *testing.T) {
	s := testSFU(t)
	startHost(t, s, "stable", hostOptions{clips: []clipSpec{clipQ, clipH, clipF}, audio: true, jitter: true})
	to := startOrigin(t, s, DefaultConfig(), nil, nil)
	mv := to.waitLive(t, "stable", "")
	uris := mediaURIs(mv)
	if len(uris) != 6 {
		t.Fatalf("multivariant lists %d media playlists, want 3 video + 3 audio: %v", len(uris), uris)
	}
	for _, c := range runStabilityChecks(to, "stable", uris, stableFor) {
		c.report(t)
	}
}

// runStabilityChecks reloads every playlist of uris (one player each) for d, at once.
func runStabilityChecks(to *testOrigin, room string, uris []string, d time.Duration) []*stabilityCheck {
	deadline := time.Now().Add(d)
	checks := make([]*stabilityCheck, len(uris))
	var wg sync.WaitGroup
	for i, uri := range uris {
		checks[i] = &stabilityCheck{uri: uri, others: len(uris) - 1, problems: map[string]*problem{}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			checks[i].run(to, room, deadline)
		}()
	}
	wg.Wait()
	return checks
}

// stabilityCheck reloads one media playlist and collects what went wrong.
type stabilityCheck struct {
	uri    string
	others int // rendition reports expected

	first    map[string]string // tag -> the value first seen
	problems map[string]*problem
	loads    int
	blocking int
	waits    []time.Duration
	parts    int
	maxPart  time.Duration
	minPart  time.Duration
	seen     map[string]time.Duration // part URI -> duration, to count each part once
}

type problem struct {
	count   int
	example string
}

func (c *stabilityCheck) fail(kind, format string, args ...any) {
	p := c.problems[kind]
	if p == nil {
		p = &problem{example: fmt.Sprintf(format, args...)}
		c.problems[kind] = p
	}
	p.count++
}

var constantTags = map[string]*regexp.Regexp{
	"PART-TARGET":    regexp.MustCompile(`#EXT-X-PART-INF:.*PART-TARGET=([0-9.]+)`),
	"PART-HOLD-BACK": regexp.MustCompile(`#EXT-X-SERVER-CONTROL:.*PART-HOLD-BACK=([0-9.]+)`),
	"TARGETDURATION": regexp.MustCompile(`#EXT-X-TARGETDURATION:([0-9]+)`),
}

func (c *stabilityCheck) run(to *testOrigin, room string, deadline time.Time) {
	c.first, c.seen, c.minPart = map[string]string{}, map[string]time.Duration{}, time.Hour
	var last *playlist.Media
	for time.Now().Before(deadline) {
		path := c.uri
		block := last != nil && c.loads%2 == 1
		if block {
			msn, part := nextPart(last)
			path = blockingPath(c.uri, msn, part)
		}
		start := time.Now()
		resp, body, err := to.fetch("/hls/" + room + "/" + path)
		wait := time.Since(start)
		c.loads++
		if err != nil {
			c.fail("request", "%v", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			c.fail("status", "GET %s: %d %s", path, resp.StatusCode, body)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if block {
			c.blocking++
			c.waits = append(c.waits, wait)
		}
		pl, err := parseMedia(body)
		if err != nil {
			c.fail("parse", "%v", err)
			continue
		}
		c.check(pl, body)
		last = pl
		if !block {
			time.Sleep(20 * time.Millisecond) // a plain reload is a player's first; do not spin
		}
	}
}

// check applies the invariants to one playlist.
func (c *stabilityCheck) check(pl *playlist.Media, body []byte) {
	for tag, re := range constantTags {
		m := re.FindSubmatch(body)
		if m == nil {
			c.fail(tag+" missing", "no %s in\n%s", tag, body)
			continue
		}
		if first, ok := c.first[tag]; !ok {
			c.first[tag] = string(m[1])
		} else if first != string(m[1]) {
			c.fail(tag+" changed", "%s was %s, now %s", tag, first, m[1])
		}
	}
	if pl.PartInf == nil || pl.ServerControl == nil || pl.ServerControl.PartHoldBack == nil {
		c.fail("ll tags", "no PART-INF or SERVER-CONTROL PART-HOLD-BACK")
		return
	}
	target := pl.PartInf.PartTarget
	if hb := *pl.ServerControl.PartHoldBack; hb < 3*target {
		c.fail("PART-HOLD-BACK < 3x PART-TARGET", "PART-HOLD-BACK %v, PART-TARGET %v", hb, target)
	}
	if !pl.ServerControl.CanBlockReload {
		c.fail("CAN-BLOCK-RELOAD", "missing")
	}
	part := func(p *playlist.MediaPart) {
		if _, ok := c.seen[p.URI]; !ok {
			c.seen[p.URI] = p.Duration
			c.parts++
			c.maxPart = max(c.maxPart, p.Duration)
			c.minPart = min(c.minPart, p.Duration)
		}
		if p.Duration > target {
			c.fail("part longer than PART-TARGET", "%s: DURATION %v > PART-TARGET %v", p.URI, p.Duration, target)
		}
	}
	for _, seg := range pl.Segments {
		if seg.DateTime == nil {
			c.fail("segment without PROGRAM-DATE-TIME", "%s (gap %v)", seg.URI, seg.Gap)
		}
		for _, p := range seg.Parts {
			part(p)
		}
	}
	for _, p := range pl.Parts {
		part(p)
	}
	if pl.PreloadHint == nil {
		c.fail("no EXT-X-PRELOAD-HINT", "%d segments, %d parts", len(pl.Segments), len(pl.Parts))
	}
	if len(pl.RenditionReport) == 0 {
		c.fail("no EXT-X-RENDITION-REPORT", "none")
	} else if len(pl.RenditionReport) < c.others {
		c.fail("rendition reports missing", "%d of %d", len(pl.RenditionReport), c.others)
	}
}

func (c *stabilityCheck) report(t *testing.T) {
	sort.Slice(c.waits, func(i, j int) bool { return c.waits[i] < c.waits[j] })
	pct := func(p float64) time.Duration {
		if len(c.waits) == 0 {
			return 0
		}
		return c.waits[int(p*float64(len(c.waits)-1))]
	}
	t.Logf("%s: %d reloads (%d blocking: wait p50 %v, p95 %v, max %v), %d parts %v..%v, constants %v",
		c.uri, c.loads, c.blocking, pct(.5).Round(time.Millisecond), pct(.95).Round(time.Millisecond),
		pct(1).Round(time.Millisecond), c.parts, c.minPart, c.maxPart, c.first)
	kinds := make([]string, 0, len(c.problems))
	for k := range c.problems {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, k := range kinds {
		p := c.problems[k]
		fmt.Fprintf(&b, "\n  %s: %d times, e.g. %s", k, p.count, p.example)
	}
	if b.Len() > 0 {
		t.Errorf("%s:%s", c.uri, b.String())
	}
}
