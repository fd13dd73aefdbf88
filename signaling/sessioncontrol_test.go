package signaling_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

const trickleType = "application/trickle-ice-sdpfrag"

// TestEndingSessionsUnderPOSTPressure (finding 2): after a burst of 1,000 WHEP POSTs from
// one address with the default limits, every session the burst created can still be
// trickled and ended: PATCH and DELETE do not draw on the address's POST bucket.
func TestEndingSessionsUnderPOSTPressure(t *testing.T) {
	def := signaling.DefaultConfig()
	e := newEnv(t, func(_ *sfuConfig, c *sigConfig) {
		c.RatePerSecond, c.RateBurst = def.RatePerSecond, def.RateBurst
	})
	token := e.token("busy", auth.TokenOptions{Subscribe: true})
	offer := viewerOfferFrom(t)
	var created []string
	// The offers never connect, so beyond its cap of handshakes in flight (review finding 1)
	// the address is refused 503 at once: a refusal like 429, charged to the bucket too.
	limited, busy := 0, 0
	for range 1000 {
		resp, body := e.post("/whep/busy", token, "application/sdp", offer)
		switch resp.StatusCode {
		case http.StatusCreated:
			created = append(created, resp.Header.Get("Location"))
		case http.StatusTooManyRequests:
			limited++
		case http.StatusServiceUnavailable:
			busy++
		default:
			t.Fatalf("POST: %s %q", resp.Status, body)
		}
	}
	t.Logf("burst: %d created, %d busy, %d limited", len(created), busy, limited)
	if len(created) == 0 || len(created)+busy < def.RateBurst || limited == 0 {
		t.Fatalf("%d created, %d limited: the burst did not exhaust the POST bucket", len(created), limited)
	}
	// The address's bucket is empty: a request that fails is charged to it. A token may
	// have come back since the last POST (one each 100 ms; a CI run under -race took
	// longer than that to get here), and that DELETE answers 404, charged too, so the
	// next is refused: of five in a row, one must be.
	refused := false
	var deletes []string
	for range 5 {
		r, _ := e.do(http.MethodDelete, "/whep/busy/0123456789abcdef0123456789abcdef", token, "", "")
		deletes = append(deletes, r.Status)
		if refused = r.StatusCode == http.StatusTooManyRequests; refused {
			break
		}
	}
	if !refused {
		t.Errorf("DELETEs of an unknown session with the bucket empty: %v, want a 429", deletes)
	}
	frag := "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
	for i, loc := range created {
		if r, b := e.do(http.MethodPatch, loc, token, trickleType, frag); r.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH of session %d: %s %q", i, r.Status, b)
		}
	}
	// PATCH stays bounded, per session.
	statuses := map[int]int{}
	for range 40 {
		r, _ := e.do(http.MethodPatch, created[0], token, trickleType, "a=end-of-candidates\r\n")
		statuses[r.StatusCode]++
	}
	if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusNoContent] == 0 {
		t.Errorf("40 quick PATCHes of one session: %v, want some 204 then 429", statuses)
	}
	for i, loc := range created {
		if r, b := e.do(http.MethodDelete, loc, token, "", ""); r.StatusCode != http.StatusOK {
			t.Fatalf("DELETE of session %d of %d: %s %q", i, len(created), r.Status, b)
		}
	}
	if n := e.sig.Sessions(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}

// TestSessionBoundToIdentity (finding 3): a valid token of another identity for the same
// room cannot trickle or end a session; its creator and the room's admin can.
func TestSessionBoundToIdentity(t *testing.T) {
	e := newEnv(t, nil)
	alice := e.token("own", auth.TokenOptions{Identity: "alice", Subscribe: true})
	mallory := e.token("own", auth.TokenOptions{Identity: "mallory", Subscribe: true})
	admin := e.token("own", auth.TokenOptions{Identity: "moderator", Admin: true})
	offer := viewerOfferFrom(t)
	newSession := func(path, token, body string) string {
		t.Helper()
		resp, b := e.post(path, token, "application/sdp", body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %s %q", path, resp.Status, b)
		}
		return resp.Header.Get("Location")
	}
	mine, theirs := newSession("/whep/own", alice, offer), newSession("/whep/own", alice, offer)
	frag := "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"

	for _, m := range []string{http.MethodPatch, http.MethodDelete} {
		ctype, body := "", ""
		if m == http.MethodPatch {
			ctype, body = trickleType, frag
		}
		r, b := e.do(m, mine, mallory, ctype, body)
		if r.StatusCode != http.StatusForbidden || !strings.Contains(b, "another identity") {
			t.Errorf("%s with another identity's token: %s %q, want 403 naming another identity", m, r.Status, b)
		}
	}
	if r, b := e.do(http.MethodPatch, mine, alice, trickleType, frag); r.StatusCode != http.StatusNoContent {
		t.Errorf("PATCH by its creator: %s %q", r.Status, b)
	}
	if r, b := e.do(http.MethodDelete, mine, alice, "", ""); r.StatusCode != http.StatusOK {
		t.Errorf("DELETE by its creator: %s %q", r.Status, b)
	}
	if r, b := e.do(http.MethodPatch, theirs, admin, trickleType, frag); r.StatusCode != http.StatusNoContent {
		t.Errorf("PATCH by the room's admin: %s %q", r.Status, b)
	}
	if r, b := e.do(http.MethodDelete, theirs, admin, "", ""); r.StatusCode != http.StatusOK {
		t.Errorf("DELETE by the room's admin: %s %q", r.Status, b)
	}

	// A host's session too: another publisher of the room cannot end it.
	host := e.token("own", auth.TokenOptions{Identity: "host", Publish: true})
	rival := e.token("own", auth.TokenOptions{Identity: "rival", Publish: true})
	stage := newSession("/whip/own", host, offerFrom(t))
	if r, _ := e.do(http.MethodDelete, stage, rival, "", ""); r.StatusCode != http.StatusForbidden {
		t.Errorf("DELETE of the host's session by another publisher: %s, want 403", r.Status)
	}
	if r, b := e.do(http.MethodDelete, stage, host, "", ""); r.StatusCode != http.StatusOK {
		t.Errorf("DELETE by the host: %s %q", r.Status, b)
	}
}

// TestAnonymousSessionControlledByURL: a session created without a token has no identity
// to bind to; its URL alone ends it (RFC 9725's model), as documented.
func TestAnonymousSessionControlledByURL(t *testing.T) {
	e := newEnv(t, func(_ *sfuConfig, c *sigConfig) { c.AllowAnonymousViewing = true })
	host := e.token("open", auth.TokenOptions{Identity: "host", Publish: true})
	if r, b := e.post("/whip/open", host, "application/sdp", offerFrom(t)); r.StatusCode != http.StatusCreated {
		t.Fatalf("host: %s %q", r.Status, b)
	}
	resp, b := e.post("/whep/open", "", "application/sdp", viewerOfferFrom(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("anonymous viewer: %s %q", resp.Status, b)
	}
	if r, b := e.do(http.MethodDelete, resp.Header.Get("Location"), "", "", ""); r.StatusCode != http.StatusOK {
		t.Errorf("DELETE of an anonymous session by URL: %s %q", r.Status, b)
	}
}

// TestCandidatesNamingHostsAreRefused (finding 9): a candidate naming a host, trickled or
// in the offer, is refused with a clear 400 before it reaches pion (which would keep an
// .invalid name as an unresolved candidate); addresses no peer can have are refused too;
// loopback and private addresses and browsers' mDNS names still work.
func TestCandidatesNamingHostsAreRefused(t *testing.T) {
	e := newEnv(t, nil)
	token := e.token("r", auth.TokenOptions{Publish: true})
	resp, body := e.post("/whip/r", token, "application/sdp", offerFrom(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s", resp.Status, body)
	}
	loc := resp.Header.Get("Location")
	cand := func(addr string) string {
		return "a=mid:0\r\na=candidate:1 1 udp 2130706431 " + addr + " 9 typ host\r\n"
	}
	for addr, want := range map[string]string{
		"attacker.invalid": "not an IP address",
		"evil.example.com": "not an IP address",
		"0.0.0.0":          "never be a peer",
		"224.0.0.251":      "never be a peer",
		"255.255.255.255":  "never be a peer",
		"::":               "never be a peer",
	} {
		if r, b := e.do(http.MethodPatch, loc, token, trickleType, cand(addr)); r.StatusCode != http.StatusBadRequest || !strings.Contains(b, want) {
			t.Errorf("trickled %s: %s %q, want 400 saying %q", addr, r.Status, b, want)
		}
	}
	for _, addr := range []string{"127.0.0.1", "192.168.1.20", "10.0.0.7", "0d5e4c1a-1b2c-4d3e-8f90-a1b2c3d4e5f6.local"} {
		if r, b := e.do(http.MethodPatch, loc, token, trickleType, cand(addr)); r.StatusCode != http.StatusNoContent {
			t.Errorf("trickled %s: %s %q, want 204", addr, r.Status, b)
		}
	}

	offer := offerFrom(t)
	inject := func(addr string) string {
		return strings.Replace(offer, "a=mid:0\r\n", "a=mid:0\r\na=candidate:7 1 udp 2130706431 "+addr+" 9 typ host\r\n", 1)
	}
	if !strings.Contains(inject("x"), " x 9 typ host") {
		t.Fatal("offer has no a=mid:0 to put a candidate after")
	}
	for _, addr := range []string{"attacker.invalid", "0.0.0.0"} {
		if r, b := e.post("/whip/r", token, "application/sdp", inject(addr)); r.StatusCode != http.StatusBadRequest || !strings.Contains(b, "candidate") {
			t.Errorf("offer with a %s candidate: %s, want 400", addr, r.Status)
			t.Logf("body: %.200s", b)
		}
	}
	if r, b := e.post("/whip/r", token, "application/sdp", inject("a1b2c3d4-1111-2222-3333-444455556666.local")); r.StatusCode != http.StatusCreated {
		t.Errorf("offer with an mDNS candidate: %s %q, want 201", r.Status, b)
	}
}
