package signaling_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestHandshakeBound (finding 8): sessions being set up are bounded by sfu.max_handshakes.
// With every slot held by offers whose clients never connect, the next POST is answered
// 503 with Retry-After once sfu.handshake_wait passes, not held; once slots free, a burst of
// real pion viewers, four times the bound and retrying on 503, all connect and the number
// in flight never exceeded the bound.
func TestHandshakeBound(t *testing.T) {
	const limit, burst = 3, 12
	e := newEnv(t, func(c *sfuConfig, _ *sigConfig) {
		c.MaxHandshakes = limit
		c.HandshakeWait = 100 * time.Millisecond
	})
	tok := e.token("crowd", auth.TokenOptions{Subscribe: true})

	var held []string
	for range limit {
		resp, body := e.post("/whep/crowd", tok, "application/sdp", viewerOfferFrom(t))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("holding a slot: %s %q", resp.Status, body)
		}
		held = append(held, resp.Header.Get("Location"))
	}
	resp, body := e.post("/whep/crowd", tok, "application/sdp", viewerOfferFrom(t))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "busy") {
		t.Fatalf("POST with every handshake slot held: %s Retry-After %q %q; want 503 with Retry-After",
			resp.Status, resp.Header.Get("Retry-After"), body)
	}
	if got := e.sfu.Handshakes(); got.InFlight != limit {
		t.Fatalf("handshakes %+v, want %d in flight", got, limit)
	}
	for _, loc := range held {
		if resp, body := e.do(http.MethodDelete, loc, tok, "", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE %s: %s %q", loc, resp.Status, body)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		refused int
	)
	retrying := func(ctx context.Context, offer string) (string, error) {
		for {
			resp, body := e.post("/whep/crowd", tok, "application/sdp", offer)
			if resp.StatusCode == http.StatusCreated {
				return body, nil
			}
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("burst POST: %s %q", resp.Status, body)
				return "", context.Canceled
			}
			mu.Lock()
			refused++
			mu.Unlock()
			select { // sooner than Retry-After's second: the test is about the bound
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
	}
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := sfutest.NewViewer(ctx, retrying)
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(func() { _ = v.Close() })
		}()
	}
	wg.Wait()
	for e.sfu.Handshakes().InFlight != 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond) // the server sees DTLS done just after the client
	}
	got := e.sfu.Handshakes()
	t.Logf("burst of %d viewers: %d refusals retried, handshakes %+v", burst, refused, got)
	if got.Peak > limit || got.InFlight != 0 {
		t.Fatalf("handshakes %+v: the bound %d did not hold or slots were not given back", got, limit)
	}
}
