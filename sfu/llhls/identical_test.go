package llhls

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// identicalRequests is how many players ask for the same next part at once.
const identicalRequests = 200

// TestIdenticalBlockingRequests: 200 players ask, at once, for the same next part, both as
// a blocking playlist reload and as the preload-hinted part itself. Every request is
// answered with the part in it, and they cost the muxer nothing: playlists are rendered
// by the stream's goroutine once per frame whatever the audience, and the part is read
// from gohlslib once.
func TestIdenticalBlockingRequests(t *testing.T) {
	s := testSFU(t)
	host := startHost(t, s, "crowd", hostOptions{clips: []clipSpec{clipH}, audio: true, jitter: true})
	to := startOrigin(t, s, DefaultConfig(), nil, nil)
	to.waitLive(t, "crowd", "")
	st, err := to.o.stream("crowd")
	if err != nil {
		t.Fatal(err)
	}
	defer st.leave()
	v := st.variant(2)
	if v == nil {
		t.Fatal("no variant f")
	}
	const rel = "f/" + videoPlaylist
	pl, _ := to.mediaPlaylist(t, "crowd", rel)
	if pl.PreloadHint == nil {
		t.Fatal("no preload hint")
	}
	msn, part := nextPart(pl)
	hint := "f/" + pl.PreloadHint.URI
	blocking := blockingPath(rel, msn, part)

	renders, reads, frames := v.renders.Load(), v.reads.Load(), host.layers[0].sent.Load()
	start := time.Now()
	type result struct {
		code   int
		body   string
		wait   time.Duration
		target string
	}
	results := make([]result, 2*identicalRequests)
	var wg sync.WaitGroup
	for i := range results {
		path := blocking
		if i%2 == 1 {
			path = hint
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body, err := to.fetch("/hls/crowd/" + path)
			r := result{wait: time.Since(start), target: path}
			if err != nil {
				r.body = err.Error()
			} else {
				r.code, r.body = resp.StatusCode, string(body)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	dRenders, dReads, dFrames := v.renders.Load()-renders, v.reads.Load()-reads, host.layers[0].sent.Load()-frames

	playlists := map[string]int{}
	var maxWait time.Duration
	for _, r := range results {
		if r.code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", r.target, r.code, r.body)
		}
		maxWait = max(maxWait, r.wait)
		if r.target == blocking {
			pl, err := parseMedia([]byte(r.body))
			if err != nil {
				t.Fatal(err)
			}
			if m, p := nextPart(pl); m < msn || m == msn && p <= part {
				t.Fatalf("blocking reload for part %d.%d answered without it (edge %d.%d)", msn, part, m, p)
			}
			playlists[r.body]++
		}
	}
	// Each frame renders each of the variant's playlists (video and audio) at most once;
	// frames the host sent before the burst may still be on their way (a few).
	files := int64(len(v.snaps))
	if maxRenders := (dFrames + 5) * files; dRenders > maxRenders {
		t.Errorf("%d renderings during %d frames: more than %d, so requests caused some", dRenders, dFrames, maxRenders)
	}
	if dReads > 1 {
		t.Errorf("the hinted part was read from gohlslib %d times for %d requests, want once", dReads, identicalRequests)
	}
	t.Logf("%d requests (%d blocking reloads, %d for the hinted part) answered in %v (last %v); %d distinct playlists; "+
		"gohlslib: %d renderings over %d frames, %d object reads",
		len(results), identicalRequests, identicalRequests, elapsed.Round(time.Millisecond), maxWait.Round(time.Millisecond),
		len(playlists), dRenders, dFrames, dReads)
}

// TestObjectCacheOneRead: concurrent misses for one object share the first one's read.
func TestObjectCacheOneRead(t *testing.T) {
	var c objectCache
	release := make(chan struct{})
	var reads int
	var mu sync.Mutex
	read := func() ([]byte, bool) {
		mu.Lock()
		reads++
		mu.Unlock()
		<-release
		return []byte("part"), true
	}
	var wg sync.WaitGroup
	got := make([]string, 50)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, ok := c.load("x_part3.mp4", read)
			if ok {
				got[i] = string(b)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them all miss
	close(release)
	wg.Wait()
	for i, g := range got {
		if g != "part" {
			t.Fatalf("caller %d got %q", i, g)
		}
	}
	if reads != 1 {
		t.Fatalf("%d reads for 50 concurrent misses, want 1", reads)
	}
	// A failed read is not cached: the next caller reads again.
	if _, ok := c.load("missing", func() ([]byte, bool) { return nil, false }); ok {
		t.Fatal("failed read reported ok")
	}
	if b, ok := c.load("missing", func() ([]byte, bool) { return []byte("late"), true }); !ok || string(b) != "late" {
		t.Fatalf("after a failed read: %q %v", b, ok)
	}
}
