package signaling_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestHandshakeBound (finding 8, review finding 1): sessions being set up are bounded by
// sfu.max_handshakes, but no client can lock the others out. One address's offers that
// never connect sit at its cap, max(2, max_handshakes/4), and its next POST is refused
// 503 with Retry-After at once, while other addresses still get 201; with every slot held
// the next POST is refused 503 once sfu.handshake_wait passes; the lease
// (sfu.handshake_lease) gives the slots back while the sessions themselves live on; and a
// burst of real pion viewers, more than the bound and retrying on 503, all connect and the
// number in flight never exceeded the bound.
func TestHandshakeBound(t *testing.T) {
	const limit, perClient, burst = 8, 2, 16
	e := newEnv(t, func(c *sfuConfig, g *sigConfig) {
		c.MaxHandshakes = limit
		c.HandshakeWait = 100 * time.Millisecond
		c.HandshakeLease = time.Second
		g.TrustProxy = true
	})
	tok := e.token("crowd", auth.TokenOptions{Subscribe: true})
	post := func(addr string) (*http.Response, string) {
		return e.postFrom(addr, "/whep/crowd", tok, "application/sdp", viewerOfferFrom(t))
	}
	busy := func(resp *http.Response, body string) bool {
		return resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" && strings.Contains(body, "busy")
	}

	// drained waits, within generous bounds, for every lease to pass.
	drained := func() bool {
		deadline := time.Now().Add(10 * time.Second) // the lease is 1 s; connect_timeout 15 s
		for e.sfu.Handshakes().InFlight != 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		return e.sfu.Handshakes().InFlight == 0
	}

	// One address at its cap: refused at once; every other address still admitted. A lease
	// of a second leaves room for this under load; if one passes midway (a very slow
	// machine), the address is merely admitted again, and the check is made afresh.
	for try := 0; ; try++ {
		for range perClient {
			if resp, body := post("203.0.113.1"); resp.StatusCode != http.StatusCreated {
				t.Fatalf("offer within the address's cap: %s %q", resp.Status, body)
			}
		}
		begin := time.Now()
		resp, body := post("203.0.113.1")
		if resp.StatusCode == http.StatusCreated && try < 5 && drained() {
			continue
		}
		if !busy(resp, body) {
			t.Fatalf("POST from an address at its cap: %s Retry-After %q %q; want 503 with Retry-After",
				resp.Status, resp.Header.Get("Retry-After"), body)
		}
		if took := time.Since(begin); took > 5*time.Second {
			t.Fatalf("the refusal of an address at its cap took %s; want it at once", took)
		}
		break
	}
	for _, addr := range []string{"203.0.113.2", "203.0.113.3"} {
		if resp, body := post(addr); resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST from %s while 203.0.113.1 sits at its cap: %s %q; want 201", addr, resp.Status, body)
		}
	}

	// Every slot held by never-connecting offers from several addresses: refused after the
	// wait. Then the leases pass: slots come back, sessions stay until connect_timeout.
	for i := 0; e.sfu.Handshakes().InFlight < limit; i++ {
		if i > 4*limit {
			t.Fatalf("could not fill the slots: %+v", e.sfu.Handshakes())
		}
		post("198.51.100." + strconv.Itoa(i%(limit/perClient)+1))
	}
	if resp, body := post("192.0.2.1"); !busy(resp, body) {
		t.Fatalf("POST with every handshake slot held: %s Retry-After %q %q; want 503 with Retry-After",
			resp.Status, resp.Header.Get("Retry-After"), body)
	}
	sessions := e.sig.Sessions()
	if !drained() {
		got := e.sfu.Handshakes()
		t.Fatalf("handshakes %+v long after their lease: slots not given back", got)
	}
	if n := e.sig.Sessions(); n != sessions {
		t.Fatalf("%d sessions after the leases, %d before: the lease must free the slot, not end the session", n, sessions)
	}
	if resp, body := post("192.0.2.1"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST after the leases passed: %s %q", resp.Status, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		refused int
		retry   func(ctx context.Context, addr, offer string) (string, error)
	)
	retrying := func(addr string) sfutest.Signal {
		return func(ctx context.Context, offer string) (string, error) {
			return retry(ctx, addr, offer)
		}
	}
	retry = func(ctx context.Context, addr, offer string) (string, error) {
		for {
			resp, body := e.postFrom(addr, "/whep/crowd", tok, "application/sdp", offer)
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
	for i := range burst { // each from an address of its own: the bound here is the node's
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := sfutest.NewViewer(ctx, retrying("100.64.0."+strconv.Itoa(i+1)))
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

// postFrom is post as the client at addr, behind a trusted proxy (trust_proxy) that says so
// in X-Forwarded-For.
func (e *env) postFrom(addr, path, token, contentType, body string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
