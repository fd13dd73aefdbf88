package signaling_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/glintlive/glint/signaling/auth"
)

// candidateBypasses are candidate lines that once passed the screen while pion, which
// splits on single spaces and drops an IPv6 zone, read an address the screen refuses:
// "::" with a zone, and a host name hidden behind a tab and an empty field.
var candidateBypasses = map[string]string{
	"zoned unspecified":   "1 1 udp 2130706431 ::%eth0 9 typ host",
	"tab and empty field": "1 1 udp 2130706431 1.2.3.4\tattacker.invalid  typ host",
}

// TestCandidateScreenBypasses (review finding 3): the screen reads a candidate as pion
// does, so neither bypass reaches the ICE agent, trickled or in an offer; a zoned
// link-local address and an mDNS name still work.
func TestCandidateScreenBypasses(t *testing.T) {
	e := newEnv(t, nil)
	token := e.token("r", auth.TokenOptions{Publish: true})
	resp, body := e.post("/whip/r", token, "application/sdp", offerFrom(t))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%s %s", resp.Status, body)
	}
	loc := resp.Header.Get("Location")
	for name, c := range candidateBypasses {
		if r, b := e.do(http.MethodPatch, loc, token, trickleType, "a=mid:0\r\na=candidate:"+c+"\r\n"); r.StatusCode != http.StatusBadRequest || !strings.Contains(b, "candidate") {
			t.Errorf("trickled %s: %s %q, want 400", name, r.Status, b)
		}
	}
	for _, c := range []string{"1 1 udp 2130706431 fe80::1%eth0 9 typ host", "1 1 udp 2130706431 abc.local 9 typ host"} {
		if r, b := e.do(http.MethodPatch, loc, token, trickleType, "a=mid:0\r\na=candidate:"+c+"\r\n"); r.StatusCode != http.StatusNoContent {
			t.Errorf("trickled %q: %s %q, want 204", c, r.Status, b)
		}
	}

	offer := offerFrom(t)
	for name, c := range candidateBypasses {
		with := strings.Replace(offer, "a=mid:0\r\n", "a=mid:0\r\na=candidate:"+c+"\r\n", 1)
		if r, b := e.post("/whip/r", token, "application/sdp", with); r.StatusCode != http.StatusBadRequest || !strings.Contains(b, "candidate") {
			t.Errorf("offer with %s: %s %.200q, want 400", name, r.Status, b)
		}
	}
}
