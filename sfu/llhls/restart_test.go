package llhls

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"go.uber.org/goleak"
)

// TestResolutionChange: a host that changes resolution mid-stream (640x360 to 1280x720,
// as a browser does when the camera or the bandwidth changes) restarts the variant, and
// its playlist goes on (continuity): the old variant's last segments stay listed (and
// served), then an EXT-X-DISCONTINUITY, the new EXT-X-MAP and the new variant's segments,
// numbered on (no GAP segments); requests blocked on the old variant are answered from the new one, the
// multivariant playlist shows the new RESOLUTION, and nothing is left running once it is
// all closed. Before, the playlist was a 404 until the new variant came, numbered from the
// start, and hls.js gave up on it.
func TestResolutionChange(t *testing.T) {
	before := goleak.IgnoreCurrent()
	s := testSFU(t)
	host := startHost(t, s, "resize", hostOptions{clips: []clipSpec{clipH}, audio: true})
	loadClip(t, clipF) // encoded now, not while the host waits for it
	to := startOrigin(t, s, DefaultConfig(), nil, nil)
	mv := to.waitLive(t, "resize", "")
	if got := mv.Variants[0].Resolution; got != "640x360" {
		t.Fatalf("RESOLUTION %s, want 640x360", got)
	}
	const rel = "f/" + videoPlaylist
	old, _ := to.mediaPlaylist(t, "resize", rel)
	oldPrefix := prefix(old.Map.URI)

	// Requests waiting on the old variant when it restarts.
	msn, _ := nextPart(old)
	type result struct {
		code   int
		took   time.Duration
		prefix string
	}
	blocked := make([]result, 3)
	var wg sync.WaitGroup
	time.Sleep(150 * time.Millisecond)
	switched := time.Now()
	host.switchClip(0, clipF)
	for i := range blocked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			// Far enough ahead that the old variant never reaches it.
			resp, body, err := to.fetch("/hls/resize/" + blockingPath(rel, msn+1, 2))
			blocked[i].took = time.Since(start)
			if err != nil {
				return
			}
			blocked[i].code = resp.StatusCode
			if pl, err := parseMedia(body); err == nil && pl.Map != nil {
				blocked[i].prefix = prefix(pl.Map.URI)
			}
		}()
	}

	// The new variant: new URIs, new RESOLUTION.
	deadline := time.Now().Add(20 * time.Second)
	var newPrefix string
	var cont *playlist.Media
	for {
		resp, body := to.get(t, "/hls/resize/"+rel)
		if resp.StatusCode == http.StatusOK {
			pl, err := parseMedia(body)
			if err != nil {
				t.Fatal(err)
			}
			if p := prefix(pl.Map.URI); p != oldPrefix {
				newPrefix, cont = p, pl
				break
			}
			old = pl // the old variant's newest playlist
		} else {
			t.Errorf("the playlist answered %d during the restart, want it to wait for the next variant", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new variant 20 s after the resolution change (last: %d)", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	restart := time.Since(switched)
	mv = to.waitLive(t, "resize", "")
	if got := mv.Variants[0].Resolution; got != "1280x720" {
		t.Fatalf("after the change: RESOLUTION %s, want 1280x720", got)
	}
	// The new playlist goes on from the old one's numbers: the old variant's last segments
	// (its tail, the open one closed from its parts), then a discontinuity and the new
	// variant's first segment, numbered after the old one's open segment.
	disc := slices.IndexFunc(cont.Segments, func(s *playlist.MediaSegment) bool { return s.Discontinuity })
	if disc < 1 {
		t.Fatalf("no EXT-X-DISCONTINUITY after the old variant's segments:\n%+v", cont.Segments)
	}
	for i, seg := range cont.Segments {
		want := newPrefix
		if i < disc {
			want = oldPrefix
		}
		if prefix(seg.URI) != want || seg.Gap {
			t.Errorf("segment %d of the continued playlist: %s (gap %v), want one of %s", i, seg.URI, seg.Gap, want)
		}
		if resp, _ := to.get(t, "/hls/resize/f/"+seg.URI); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s listed in the continued playlist: %d", seg.URI, resp.StatusCode)
		}
	}
	oldNext := old.MediaSequence + len(old.Segments) // the old one's open segment, or the next
	if first := cont.MediaSequence + disc; first < oldNext || first > oldNext+2 {
		t.Errorf("the new variant's first segment is number %d; the old playlist's last listed segment was %d", first, oldNext-1)
	}
	if cont.DiscontinuitySequence != nil && *cont.DiscontinuitySequence != 0 {
		t.Errorf("EXT-X-DISCONTINUITY-SEQUENCE %d while the discontinuity is listed, want 0", *cont.DiscontinuitySequence)
	}
	wg.Wait()
	fromNew := 0
	for _, r := range blocked {
		// Answered by the new variant (or by the old one, had it got there first).
		if r.code != http.StatusOK {
			t.Errorf("request blocked across the restart: %d after %v, want 200", r.code, r.took)
		}
		if r.prefix == newPrefix {
			fromNew++
		}
	}
	if fromNew == 0 {
		t.Logf("every blocked request was answered by the old variant before it restarted: the carry-over was not exercised")
	}
	t.Logf("variant restarted (prefix %s -> %s) %v after the switch; requests blocked on the old one: %+v",
		oldPrefix, newPrefix, restart.Round(time.Millisecond), blocked)

	// Everything stops: the origin, the host, the SFU.
	to.o.Close()
	host.close()
	to.srv.Close()
	_ = s.Close()
	goleak.VerifyNone(t, before)
}

// prefix is the stream prefix gohlslib gives a muxer's files ("<prefix>_video1_init.mp4").
func prefix(uri string) string {
	p, _, _ := strings.Cut(uri, "_")
	return p
}

// TestIdleStreamStops: a stream nobody asked for in IdleTimeout stops, leaving no
// goroutine behind (its muxers, its queue reader); the next request starts it again.
func TestIdleStreamStops(t *testing.T) {
	s := testSFU(t)
	startHost(t, s, "idle", hostOptions{clips: []clipSpec{clipQ}, audio: true})
	cfg := DefaultConfig()
	cfg.IdleTimeout = time.Second
	to := startOrigin(t, s, cfg, nil, nil)
	before := goleak.IgnoreCurrent() // the SFU, the host, the origin's reaper, the server
	mv := to.waitLive(t, "idle", "")
	first, _ := to.mediaPlaylist(t, "idle", mv.Variants[0].URI)
	if to.o.Streams() != 1 {
		t.Fatalf("%d streams, want 1", to.o.Streams())
	}
	to.c.CloseIdleConnections()
	quiet := time.Now()
	for to.o.Streams() != 0 {
		if time.Since(quiet) > cfg.IdleTimeout+10*time.Second {
			t.Fatalf("stream still running %v after the last request (idle timeout %v)", time.Since(quiet), cfg.IdleTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("stream stopped %v after the last request (idle timeout %v, checked every second)",
		time.Since(quiet).Round(10*time.Millisecond), cfg.IdleTimeout)
	if err := goleak.Find(before); err != nil {
		t.Fatalf("goroutines left by the stopped stream: %v", err)
	}
	// A viewer coming back starts it anew.
	mv = to.waitLive(t, "idle", "")
	again, _ := to.mediaPlaylist(t, "idle", mv.Variants[0].URI)
	if prefix(again.Map.URI) == prefix(first.Map.URI) {
		t.Fatalf("restarted stream kept the old URIs (%s)", again.Map.URI)
	}
}
