package signaling_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestBadRequests: each kind of bad input gets its own clear status and message, and none
// of them disturbs a session that is already running.
func TestBadRequests(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A live session that must survive everything below.
	pubToken := e.token("live", auth.TokenOptions{Publish: true})
	pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/live", pubToken, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	viewer, err := sfutest.NewViewer(ctx, e.signal("/whep/live", e.token("live", auth.TokenOptions{Subscribe: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()

	sub := e.token("r", auth.TokenOptions{Subscribe: true})
	pubR := e.token("r", auth.TokenOptions{Publish: true})
	other := e.token("other", auth.TokenOptions{Publish: true})
	badSig, _ := auth.Issue(testKey, "not-the-secret", auth.TokenOptions{Room: "r", Identity: "x", Publish: true, TTL: time.Hour})
	validOffer := offerFrom(t)

	cases := []struct {
		name, method, path, token, ctype, body string
		status                                 int
		msg                                    string
	}{
		{"no token", "POST", "/whip/r", "", "application/sdp", validOffer, 401, "token"},
		{"garbage token", "POST", "/whip/r", "abc.def.ghi", "application/sdp", validOffer, 401, "token"},
		{"wrong secret", "POST", "/whip/r", badSig, "application/sdp", validOffer, 401, "token"},
		{"token for another room", "POST", "/whip/r", other, "application/sdp", validOffer, 403, "room"},
		{"subscribe token publishing", "POST", "/whip/r", sub, "application/sdp", validOffer, 403, "canPublish"},
		{"wrong content type", "POST", "/whip/r", pubR, "text/plain", validOffer, 415, "application/sdp"},
		{"missing content type", "POST", "/whip/r", pubR, "", validOffer, 415, "application/sdp"},
		{"malformed SDP", "POST", "/whip/r", pubR, "application/sdp", "this is not sdp", 400, "offer"},
		{"SDP without media", "POST", "/whip/r", pubR, "application/sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", 400, "audio or video"},
		{"oversized SDP", "POST", "/whip/r", pubR, "application/sdp", validOffer + strings.Repeat("a=x-pad:0123456789\r\n", 5000), 413, "limit"},
		{"bad room name", "POST", "/whip/bad%20room", foreignToken(t, "bad room"), "application/sdp", validOffer, 400, "room"},
		{"unknown resource", "DELETE", "/whip/r/0123456789abcdef0123456789abcdef", pubR, "", "", 404, "session"},
		{"unknown resource patch", "PATCH", "/whep/r/nope", sub, "application/trickle-ice-sdpfrag", "a=end-of-candidates\r\n", 404, "session"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := e.do(c.method, c.path, c.token, c.ctype, c.body)
			if resp.StatusCode != c.status {
				t.Fatalf("%s %s: %s %q, want %d", c.method, c.path, resp.Status, body, c.status)
			}
			if !strings.Contains(body, c.msg) {
				t.Errorf("body %q does not mention %q", body, c.msg)
			}
		})
	}
	if n := e.sig.Sessions(); n != 2 {
		t.Errorf("%d sessions, want the 2 live ones", n)
	}
	// The live session kept flowing.
	if err := pub.SendFrames(ctx, 0, 3, 30, 30); err != nil {
		t.Fatal(err)
	}
	if err := viewer.WaitFrame(ctx, 1); err != nil {
		t.Fatal(err)
	}
}

// TestRateLimitPerIP: past the burst, a client gets 429 with Retry-After.
func TestRateLimitPerIP(t *testing.T) {
	e := newEnv(t, func(_ *sfuConfig, c *sigConfig) { c.RatePerSecond, c.RateBurst = 0.1, 3 })
	var last *http.Response
	for range 4 {
		last, _ = e.post("/whip/r", "", "application/sdp", "v=0")
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("4th request: %s (Retry-After %q), want 429", last.Status, last.Header.Get("Retry-After"))
	}
}

// TestUnconnectedSessionIsReaped: a peer that posts an offer and never completes ICE loses
// its session after the connect timeout, and its resource URL with it.
func TestUnconnectedSessionIsReaped(t *testing.T) {
	e := newEnv(t, func(s *sfuConfig, _ *sigConfig) { s.ConnectTimeout, s.HandshakeLease = time.Second, time.Second })
	token := e.token("r", auth.TokenOptions{Publish: true})
	resp, body := e.post("/whip/r", token, "application/sdp", offerFrom(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s", resp.Status, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.sig.Sessions() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("session still registered 10s after a 1s connect timeout")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r, _ := e.do(http.MethodDelete, resp.Header.Get("Location"), token, "", ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("DELETE of a reaped session: %s, want 404", r.Status)
	}
}

// TestCORSPreflight: a page on another origin may publish, and use the room API.
func TestCORSPreflight(t *testing.T) {
	e := newEnv(t, func(_ *sfuConfig, c *sigConfig) { c.ICEServers = []string{"stun:stun.example.net:3478"} })
	req, _ := http.NewRequest(http.MethodOptions, e.srv.URL+"/whip/r", nil)
	req.Header.Set("Origin", "https://studio.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Prefer") ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Location") || h.Get("Accept-Post") != "application/sdp" ||
		h.Get("Link") != `<stun:stun.example.net:3478>; rel="ice-server"` {
		t.Fatalf("preflight: %s %v", resp.Status, h)
	}
	// The room API too: a host's page on another origin sets its room's metadata.
	req, _ = http.NewRequest(http.MethodOptions, e.srv.URL+"/rooms/r/metadata", nil)
	req.Header.Set("Origin", "https://studio.example.com")
	req.Header.Set("Access-Control-Request-Method", "PUT")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header; resp.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Fatalf("the room API's preflight: %s %v", resp.Status, h)
	}
}

// TestCapacityLimits: past max viewers per room or max rooms, a clear 503 with Retry-After,
// and, for a viewer, a Link to the room's LL-HLS playlist to fall back to at once.
func TestCapacityLimits(t *testing.T) {
	e := newEnv(t, func(s *sfuConfig, _ *sigConfig) { s.MaxViewersPerRoom, s.MaxRooms = 1, 1 })
	e.sig.SetFallback(func(room string) string { return "/hls/" + room + "/index.m3u8" })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	token := e.token("full", auth.TokenOptions{Subscribe: true})
	v, err := sfutest.NewViewer(ctx, e.signal("/whep/full", token, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	resp, body := e.post("/whep/full", token, "application/sdp", viewerOfferFrom(t))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "room is full") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second viewer: %s %q", resp.Status, body)
	}
	if link := resp.Header.Get("Link"); link != `</hls/full/index.m3u8>; rel="alternate"; type="application/vnd.apple.mpegurl"` {
		t.Errorf("second viewer's Link %q, want the room's LL-HLS playlist", link)
	}
	resp, body = e.post("/whep/other", e.token("other", auth.TokenOptions{Subscribe: true}), "application/sdp", viewerOfferFrom(t))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "too many rooms") {
		t.Errorf("second room: %s %q", resp.Status, body)
	}
}

// TestAnonymousViewerCannotCreateRooms: with anonymous viewing on, a viewer without a token
// may watch an existing room but not conjure new ones. With anonymous_wait 0 it is told at
// once (roomwait_test.go has the waiting).
func TestAnonymousViewerCannotCreateRooms(t *testing.T) {
	e := newEnv(t, func(_ *sfuConfig, c *sigConfig) { c.AllowAnonymousViewing, c.AnonymousWait = true, 0 })
	resp, body := e.post("/whep/nobody-here", "", "application/sdp", viewerOfferFrom(t))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no such room") {
		t.Fatalf("anonymous WHEP to a new room: %s %q, want 404", resp.Status, body)
	}
	if e.sfu.Room("nobody-here") != nil {
		t.Error("the room was created anyway")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/open", e.token("open", auth.TokenOptions{Publish: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	v, err := sfutest.NewViewer(ctx, e.signal("/whep/open", "", nil))
	if err != nil {
		t.Fatalf("anonymous viewer of a live room: %v", err)
	}
	defer v.Close()
	// A bad token is still refused, with a challenge.
	resp, _ = e.post("/whep/open", "not-a-token", "application/sdp", viewerOfferFrom(t))
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("bad token: %s, WWW-Authenticate %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
}

// TestTrickleCandidatesAreBounded: a session cannot trickle candidates without limit.
func TestTrickleCandidatesAreBounded(t *testing.T) {
	e := newEnv(t, nil)
	token := e.token("r", auth.TokenOptions{Publish: true})
	resp, body := e.post("/whip/r", token, "application/sdp", offerFrom(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s", resp.Status, body)
	}
	loc := resp.Header.Get("Location")
	var frag strings.Builder
	frag.WriteString("a=mid:0\r\n")
	for i := range 60 {
		fmt.Fprintf(&frag, "a=candidate:%d 1 udp 2130706431 127.0.0.1 %d typ host\r\n", i, 20000+i)
	}
	for i := range 3 {
		r, b := e.do(http.MethodPatch, loc, token, "application/trickle-ice-sdpfrag", frag.String())
		want := http.StatusNoContent
		if i == 2 { // 180 > 128
			want = http.StatusTooManyRequests
		}
		if r.StatusCode != want {
			t.Fatalf("PATCH %d: %s %q, want %d", i, r.Status, b, want)
		}
	}
}

// foreignToken is a publish token for room signed with the test key by LiveKit's own
// library, as another tool would sign it: auth.Issue refuses a room no endpoint takes, so
// the endpoints' own check of the name is tested with a token from elsewhere.
func foreignToken(t *testing.T, room string) string {
	t.Helper()
	yes := true
	tok, err := lkauth.NewAccessToken(testKey, testSecret).SetIdentity("x").
		SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: room, CanPublish: &yes}).
		SetValidFor(time.Hour).ToJWT()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
