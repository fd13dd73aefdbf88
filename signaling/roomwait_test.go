package signaling_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

// anonymousEnv is a server with anonymous viewing on and waits of wait.
func anonymousEnv(t *testing.T, wait time.Duration, tweak func(*sigConfig)) *env {
	return newEnv(t, func(_ *sfuConfig, c *sigConfig) {
		c.AllowAnonymousViewing = true
		c.AnonymousWait = wait
		if tweak != nil {
			tweak(c)
		}
	})
}

// signalingMetrics reads the package's process-wide metrics.
func signalingMetrics(t *testing.T) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(signaling.Collectors()...)
	return gather(t, reg)
}

// waitingGauge polls glint_signaling_anonymous_waiting until it is want (liveness only:
// the bound is generous).
func waitingGauge(t *testing.T, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := signalingMetrics(t)["glint_signaling_anonymous_waiting"]
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("glint_signaling_anonymous_waiting = %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// answer is one WHEP POST's outcome, for requests run in the background.
type answer struct {
	resp *http.Response
	body string
	err  error
}

// postAsync sends an anonymous WHEP offer from client (an X-Forwarded-For address, used
// when the server trusts it) in the background; cancelling ctx abandons it.
func (e *env) postAsync(ctx context.Context, path, client string) <-chan answer {
	offer := viewerOfferFrom(e.t)
	out := make(chan answer, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+path, strings.NewReader(offer))
		if err != nil {
			out <- answer{err: err}
			return
		}
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Prefer", "wait=60")
		if client != "" {
			req.Header.Set("X-Forwarded-For", client)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			out <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- answer{resp: resp, body: string(b)}
	}()
	return out
}

// waitingSignal is an anonymous viewer's WHEP that asks to wait for the room (Prefer).
func (e *env) waitingSignal(path string) sfutest.Signal {
	return func(ctx context.Context, offer string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.srv.URL+path, strings.NewReader(offer))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Prefer", "wait=60")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("POST %s: %s: %s", path, resp.Status, b)
		}
		return string(b), nil
	}
}

// within waits for a background POST's answer (liveness: a generous bound).
func within(t *testing.T, c <-chan answer, d time.Duration, what string) answer {
	t.Helper()
	select {
	case a := <-c:
		return a
	case <-time.After(d):
		t.Fatalf("%s: no answer within %v", what, d)
		return answer{}
	}
}

// TestAnonymousViewerWaitsForHost is issue 14: an anonymous viewer whose page opened
// before the show starts waits for the host, holding no session and no room meanwhile,
// and plays as soon as the host publishes.
func TestAnonymousViewerWaitsForHost(t *testing.T) {
	e := anonymousEnv(t, 20*time.Second, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type started struct {
		v   *sfutest.Viewer
		err error
	}
	viewer := make(chan started, 1)
	go func() {
		v, err := sfutest.NewViewer(ctx, e.waitingSignal("/whep/early"))
		viewer <- started{v, err}
	}()
	waitingGauge(t, 1)
	if e.sfu.Room("early") != nil || e.sig.Sessions() != 0 {
		t.Fatalf("while waiting: room %v, %d sessions; want neither", e.sfu.Room("early"), e.sig.Sessions())
	}

	pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/early", e.token("early", auth.TokenOptions{Identity: "host", Publish: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var got started
	select {
	case got = <-viewer:
	case <-ctx.Done():
		t.Fatal("the waiting viewer did not join once the host published")
	}
	if got.err != nil {
		t.Fatalf("the waiting viewer: %v", got.err)
	}
	defer got.v.Close()
	waitingGauge(t, 0)
	if err := pub.SendFrames(ctx, 0, 30, 30, 30); err != nil {
		t.Fatal(err)
	}
	if err := got.v.WaitFrame(ctx, 29); err != nil {
		t.Fatalf("no media after waiting for the host: %v; %s", err, got.v.Summary())
	}
	if got.v.AudioPackets() == 0 {
		t.Error("no audio after waiting for the host")
	}
}

// TestAnonymousWaitTimesOut: with no host, the wait ends after anonymous_wait with a 404
// an SDK can loop on (Retry-After), counted, and leaves no room behind. A request that
// would be refused anyway is refused at once, without waiting.
func TestAnonymousWaitTimesOut(t *testing.T) {
	const wait = 300 * time.Millisecond
	e := anonymousEnv(t, wait, nil)
	before := signalingMetrics(t)["glint_signaling_anonymous_wait_timeouts_total"]
	// Not asked to wait: "not live yet" at once, and not a timeout.
	if resp, body := e.post("/whep/later", "", "application/sdp", viewerOfferFrom(t)); resp.StatusCode != http.StatusNotFound ||
		resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, "Prefer: wait") {
		t.Fatalf("no host, no Prefer: %s, Retry-After %q, %q; want 404, 2, a hint to send Prefer", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := within(t, e.postAsync(ctx, "/whep/later", ""), 10*time.Second, "a wait with no host")
	if a.err != nil {
		t.Fatal(a.err)
	}
	resp, body := a.resp, a.body
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, "not live yet") {
		t.Fatalf("no host: %s, Retry-After %q, %q; want 404, 2, not live yet", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	if waited := time.Since(start); waited < wait {
		t.Errorf("answered after %v, before anonymous_wait (%v)", waited, wait)
	}
	if e.sfu.Room("later") != nil {
		t.Error("the wait created the room")
	}
	m := signalingMetrics(t)
	if n := m["glint_signaling_anonymous_wait_timeouts_total"] - before; n != 1 {
		t.Errorf("%v timeouts counted, want 1", n)
	}
	if n := m["glint_signaling_anonymous_waiting"]; n != 0 {
		t.Errorf("%v still waiting after the timeout", n)
	}

	// Each of these would wait 300 ms and answer 404 if it were checked after the wait.
	for _, c := range []struct {
		what, path, contentType, offer string
		status                         int
	}{
		{"wrong content type", "/whep/later", "text/plain", viewerOfferFrom(t), http.StatusUnsupportedMediaType},
		{"offer too large", "/whep/later", "application/sdp", strings.Repeat("x", 70<<10), http.StatusRequestEntityTooLarge},
		{"not SDP", "/whep/later", "application/sdp", "hello", http.StatusBadRequest},
		{"publisher's offer", "/whep/later", "application/sdp", offerFrom(t), http.StatusBadRequest},
		{"bad layer", "/whep/later?layer=z", "application/sdp", viewerOfferFrom(t), http.StatusBadRequest},
		{"bad room name", "/whep/no%20spaces", "application/sdp", viewerOfferFrom(t), http.StatusBadRequest},
	} {
		if r, b := e.post(c.path, "", c.contentType, c.offer); r.StatusCode != c.status {
			t.Errorf("%s: %s %q, want %d", c.what, r.Status, b, c.status)
		}
	}
	// A bad token is refused, not taken for an anonymous viewer.
	if r, _ := e.post("/whep/later", "not-a-token", "application/sdp", viewerOfferFrom(t)); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad token: %s, want 401", r.Status)
	}
}

// TestAnonymousWaitingIsBounded: at most max_anonymous_waiting requests wait (503 beyond),
// at most max_anonymous_waiting_per_address from one address (429 beyond), both with
// Retry-After; and waiting requests take no place in max_sessions.
func TestAnonymousWaitingIsBounded(t *testing.T) {
	e := anonymousEnv(t, 30*time.Second, func(c *sigConfig) {
		c.MaxAnonymousWaiting, c.MaxAnonymousWaitingPerAddress = 2, 1
		c.MaxSessions = 1
		c.TrustProxy = true // X-Forwarded-For tells the test's clients apart
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := e.postAsync(ctx, "/whep/soon", "10.0.0.1")
	waitingGauge(t, 1)
	sameAddress := within(t, e.postAsync(ctx, "/whep/soon", "10.0.0.1"), 10*time.Second, "a second wait from one address")
	if sameAddress.err != nil || sameAddress.resp.StatusCode != http.StatusTooManyRequests || sameAddress.resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(sameAddress.body, "from this address") {
		t.Errorf("a second wait from one address: %+v; want 429 with Retry-After", sameAddress)
	}
	second := e.postAsync(ctx, "/whep/soon", "10.0.0.2")
	waitingGauge(t, 2)
	full := within(t, e.postAsync(ctx, "/whep/soon", "10.0.0.3"), 10*time.Second, "a wait beyond the bound")
	if full.err != nil || full.resp.StatusCode != http.StatusServiceUnavailable || full.resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(full.body, "too many viewers waiting") {
		t.Errorf("a wait beyond max_anonymous_waiting: %+v; want 503 with Retry-After", full)
	}
	// Two requests wait and max_sessions is 1: a viewer with a token still gets a session.
	if r, b := e.post("/whep/other", e.token("other", auth.TokenOptions{Subscribe: true}), "application/sdp", viewerOfferFrom(t)); r.StatusCode != http.StatusCreated {
		t.Errorf("a session while two requests wait, max_sessions 1: %s %q", r.Status, b)
	}
	cancel()
	for _, c := range []<-chan answer{first, second} {
		within(t, c, 10*time.Second, "a cancelled wait")
	}
	waitingGauge(t, 0)
}

// TestAnonymousWaitCancelledFreesItsPlace: a client that goes away while waiting stops
// waiting at once, and its place is free for the next.
func TestAnonymousWaitCancelledFreesItsPlace(t *testing.T) {
	e := anonymousEnv(t, 30*time.Second, func(c *sigConfig) { c.MaxAnonymousWaiting, c.MaxAnonymousWaitingPerAddress = 1, 1 })
	ctx, cancel := context.WithCancel(context.Background())
	gone := e.postAsync(ctx, "/whep/soon", "")
	waitingGauge(t, 1)
	cancel()
	if a := within(t, gone, 10*time.Second, "a cancelled wait"); a.err == nil {
		t.Errorf("the cancelled request was answered: %s", a.resp.Status)
	}
	waitingGauge(t, 0)

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	next := e.postAsync(ctx, "/whep/soon", "")
	waitingGauge(t, 1) // it waits: not refused for want of a place
	cancel()
	within(t, next, 10*time.Second, "the next wait, cancelled")
	waitingGauge(t, 0)
}

// TestCloseEndsAnonymousWaits: closing the server ends every wait at once with 503 (an
// http.Server's Shutdown would otherwise wait anonymous_wait for them), and a request
// arriving after it does not wait.
func TestCloseEndsAnonymousWaits(t *testing.T) {
	e := anonymousEnv(t, 50*time.Second, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waiting := e.postAsync(ctx, "/whep/soon", "")
	waitingGauge(t, 1)
	e.sig.Close(context.Background())
	for _, c := range []<-chan answer{waiting, e.postAsync(ctx, "/whep/soon", "")} {
		a := within(t, c, 10*time.Second, "a wait when the server closed")
		if a.err != nil || a.resp.StatusCode != http.StatusServiceUnavailable || a.resp.Header.Get("Retry-After") == "" {
			t.Errorf("a wait when the server closed: %+v; want 503 with Retry-After", a)
		}
	}
	waitingGauge(t, 0)
}

// TestAnonymousWaitAsksTheClusterAgain: on a node of a cluster, an anonymous viewer whose
// room is not hosted anywhere yet (or not yet in the room directory) waits, and the node
// asks the cluster again while it does: once the room can be relayed, the relay opens it
// here and the viewer plays, instead of waiting out its whole wait for a room that only a
// relay would ever open on this node.
func TestAnonymousWaitAsksTheClusterAgain(t *testing.T) {
	e := anonymousEnv(t, 20*time.Second, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		mu      sync.Mutex
		live    bool // the host is live on another node
		asked   int
		relayOn bool // the stand-in relay started
		relayed = make(chan *sfutest.Publisher, 1)
	)
	e.sig.SetRelay(func(room string) bool {
		mu.Lock()
		defer mu.Unlock()
		asked++
		if !live || room != "elsewhere" {
			return false
		}
		if !relayOn { // start the "relay" once: a publisher into this node's room
			relayOn = true
			go func() {
				pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/elsewhere", e.token("elsewhere", auth.TokenOptions{Identity: "relay:node-a", Publish: true}), nil))
				if err != nil {
					t.Errorf("the stand-in relay: %v", err)
				}
				relayed <- pub
			}()
		}
		return true
	})
	type started struct {
		v   *sfutest.Viewer
		err error
	}
	viewer := make(chan started, 1)
	go func() {
		v, err := sfutest.NewViewer(ctx, e.waitingSignal("/whep/elsewhere"))
		viewer <- started{v, err}
	}()
	waitingGauge(t, 1)
	time.Sleep(1500 * time.Millisecond) // asked at least once more, still not live anywhere
	mu.Lock()
	if asked < 2 {
		mu.Unlock()
		t.Fatalf("the cluster was asked %d times in 1.5 s of waiting, want again every second", asked)
	}
	live = true
	mu.Unlock()

	var got started
	select {
	case got = <-viewer:
	case <-ctx.Done():
		t.Fatal("the waiting viewer did not join once its room could be relayed")
	}
	if got.err != nil {
		t.Fatalf("the waiting viewer: %v", got.err)
	}
	defer got.v.Close()
	if pub := <-relayed; pub != nil {
		defer pub.Close()
	}
}
