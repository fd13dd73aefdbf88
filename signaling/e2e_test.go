package signaling_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestWHIPToWHEPAcrossRepublish is the integration test over the real HTTP surface:
// a pion host publishes H.264 + Opus over WHIP, twenty pion viewers watch over WHEP (joined
// before the host goes live), the host ends its session with DELETE and publishes again,
// and every viewer receives every frame intact with continuous sequence numbers.
func TestWHIPToWHEPAcrossRepublish(t *testing.T) {
	const viewers, perSession = 20, 45
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	watch := e.signal("/whep/show", e.token("show", auth.TokenOptions{Subscribe: true}), nil)
	vs := make([]*sfutest.Viewer, viewers)
	var g errgroup.Group
	for i := range vs {
		g.Go(func() (err error) {
			vs[i], err = sfutest.NewViewer(ctx, watch)
			return err
		})
	}
	err := g.Wait()
	defer func() {
		for _, v := range vs {
			if v != nil {
				_ = v.Close()
			}
		}
	}()
	if err != nil {
		t.Fatal(err)
	}

	hostToken := e.token("show", auth.TokenOptions{Identity: "host", Publish: true})
	var want []uint32
	for session := range 2 {
		var location string
		pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/show", hostToken, func(l string) { location = l }))
		if err != nil {
			t.Fatal(err)
		}
		first := uint32(session * 100)
		if err := pub.SendFrames(ctx, first, perSession, 30, 30); err != nil {
			t.Fatal(err)
		}
		for n := range uint32(perSession) {
			want = append(want, first+n)
		}
		for i, v := range vs {
			if err := v.WaitFrame(ctx, first+perSession-1); err != nil {
				t.Fatalf("viewer %d, session %d: %v", i, session, err)
			}
		}
		if resp, body := e.do(http.MethodDelete, location, hostToken, "", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE %s: %s %s", location, resp.Status, body)
		}
		_ = pub.Close()
	}
	for i, v := range vs {
		if err := v.Check(want); err != nil {
			t.Errorf("viewer %d: %v; %s", i, err, v.Summary())
		}
		if v.AudioPackets() == 0 {
			t.Errorf("viewer %d received no audio", i)
		}
	}
	if n := e.sig.Sessions(); n != viewers {
		t.Errorf("%d sessions after the host left, want the %d viewers", n, viewers)
	}
}

// TestWHIPResponseHeaders checks the RFC 9725 resource semantics a WHIP client relies on.
func TestWHIPResponseHeaders(t *testing.T) {
	e := newEnv(t, func(_ *sfuConfig, c *sigConfig) { c.ICEServers = []string{"stun:stun.example.net:3478"} })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	token := e.token("hdr", auth.TokenOptions{Publish: true})
	var resp *http.Response
	signal := func(ctx context.Context, offer string) (string, error) {
		var body string
		resp, body = e.post("/whip/hdr", token, "application/sdp", offer)
		return body, nil
	}
	pub, err := sfutest.NewPublisher(ctx, signal)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusCreated || h.Get("Content-Type") != "application/sdp" {
		t.Fatalf("status %s, content type %q", resp.Status, h.Get("Content-Type"))
	}
	if loc := h.Get("Location"); !strings.HasPrefix(loc, "/whip/hdr/") || len(loc) < len("/whip/hdr/")+32 {
		t.Errorf("Location %q", loc)
	}
	if h.Get("ETag") == "" || h.Get("Accept-Patch") != "application/trickle-ice-sdpfrag" {
		t.Errorf("ETag %q, Accept-Patch %q", h.Get("ETag"), h.Get("Accept-Patch"))
	}
	if l := h.Get("Link"); l != `<stun:stun.example.net:3478>; rel="ice-server"` {
		t.Errorf("Link %q", l)
	}
	// A trickled candidate is accepted with 204, an ICE restart refused with 422.
	loc := h.Get("Location")
	frag := "a=ice-ufrag:" + ufragOf(pub.PC.LocalDescription().SDP) + "\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
	if r, body := e.do(http.MethodPatch, loc, token, "application/trickle-ice-sdpfrag", frag); r.StatusCode != http.StatusNoContent {
		t.Errorf("trickle PATCH: %s %s", r.Status, body)
	}
	restart := "a=ice-ufrag:newufrag\r\na=ice-pwd:newpasswordnewpassword\r\n"
	if r, _ := e.do(http.MethodPatch, loc, token, "application/trickle-ice-sdpfrag", restart); r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("ICE restart PATCH: %s, want 422", r.Status)
	}
	if r, _ := e.do(http.MethodDelete, loc, token, "", ""); r.StatusCode != http.StatusOK {
		t.Errorf("DELETE: %s", r.Status)
	}
	if r, _ := e.do(http.MethodDelete, loc, token, "", ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("second DELETE: %s, want 404", r.Status)
	}
}

func ufragOf(sdp string) string {
	for _, line := range strings.Split(sdp, "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}
