package llhls

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestResolutionChange: a host that changes resolution mid-stream (640x360 to 1280x720,
// as a browser does when the camera or the bandwidth changes) restarts the variant: the
// playlist's URIs change, the multivariant playlist shows the new RESOLUTION, requests
// blocked on the old variant end, and nothing is left running once it is all closed.
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
		code int
		took time.Duration
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
			resp, _, err := to.fetch("/hls/resize/" + blockingPath(rel, msn+1, 2))
			blocked[i].took = time.Since(start)
			if err == nil {
				blocked[i].code = resp.StatusCode
			}
		}()
	}

	// The new variant: new URIs, new RESOLUTION.
	deadline := time.Now().Add(20 * time.Second)
	var newPrefix string
	for {
		resp, body := to.get(t, "/hls/resize/"+rel)
		if resp.StatusCode == http.StatusOK {
			pl, err := parseMedia(body)
			if err != nil {
				t.Fatal(err)
			}
			if p := prefix(pl.Map.URI); p != oldPrefix {
				newPrefix = p
				break
			}
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
	wg.Wait()
	for _, r := range blocked {
		// 503 (the variant restarted) for requests already waiting, 404 (no variant yet)
		// for any that came in between; ended by the restart, not by the blocking timeout.
		if r.code != http.StatusServiceUnavailable && r.code != http.StatusNotFound {
			t.Errorf("request blocked across the restart: %d after %v, want 503 or 404", r.code, r.took)
		}
		if r.took > DefaultConfig().blockTimeout()/2 {
			t.Errorf("request blocked across the restart ended after %v, not at the restart", r.took)
		}
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
