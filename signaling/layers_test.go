package signaling_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

// TestLayersPut: a relay node's WHEP session (its token's identity starts with
// signaling.RelayIdentityPrefix, its offer has a video section per layer) is answered
// with every layer's section and takes PUT {session}/layers; a viewer's session with the
// same offer is not layered (409), and a bad body, content type or token is refused.
func TestLayersPut(t *testing.T) {
	e := newEnv(t, nil)
	e.sig.SetRelayNodes(func(_ context.Context, node string) bool { return node == "node-b" })
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	video, audio := webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio
	relayTok := e.token("show", auth.TokenOptions{Identity: signaling.RelayIdentityPrefix + "node-b", Subscribe: true})
	res, answer := e.post("/whep/show", relayTok, "application/sdp", engineOffer(t, m, webrtc.RTPTransceiverDirectionRecvonly, video, video, video, audio))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("relay's WHEP: %s: %s", res.Status, answer)
	}
	if n := strings.Count(answer, "m=video"); n != 3 || strings.Count(answer, "a=sendonly") != 4 {
		t.Fatalf("relay's answer has %d video sections, %d sendonly; want 3 and 4:\n%s", n, strings.Count(answer, "a=sendonly"), answer)
	}
	relay := res.Header.Get("Location")
	viewerTok := e.token("show", auth.TokenOptions{Identity: "viewer", Subscribe: true})
	res, body := e.post("/whep/show", viewerTok, "application/sdp", engineOffer(t, m, webrtc.RTPTransceiverDirectionRecvonly, video, video, video, audio))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("viewer's WHEP: %s: %s", res.Status, body)
	}
	viewer := res.Header.Get("Location")
	// A relay identity naming no node of the cluster is a viewer's.
	strangerTok := e.token("show", auth.TokenOptions{Identity: signaling.RelayIdentityPrefix + "nobody", Subscribe: true})
	res, body = e.post("/whep/show", strangerTok, "application/sdp", engineOffer(t, m, webrtc.RTPTransceiverDirectionRecvonly, video, video, video, audio))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("stranger's WHEP: %s: %s", res.Status, body)
	}
	stranger := res.Header.Get("Location")

	for _, c := range []struct {
		name, path, token, contentType, body string
		status                               int
	}{
		{"the relay's layers", relay, relayTok, "application/json", `{"layers":["q","f"]}`, http.StatusNoContent},
		{"none", relay, relayTok, "application/json", `{"layers":[]}`, http.StatusNoContent},
		{"a viewer is not layered", viewer, viewerTok, "application/json", `{"layers":["q"]}`, http.StatusConflict},
		{"nor a relay identity of no node", stranger, strangerTok, "application/json", `{"layers":["q"]}`, http.StatusConflict},
		{"no token", relay, "", "application/json", `{"layers":["q"]}`, http.StatusUnauthorized},
		{"another identity", relay, viewerTok, "application/json", `{"layers":["q"]}`, http.StatusForbidden},
		{"no such session", "/whep/show/0123456789abcdef0123456789abcdef", relayTok, "application/json", `{"layers":["q"]}`, http.StatusNotFound},
		{"content type", relay, relayTok, "text/plain", `{"layers":["q"]}`, http.StatusUnsupportedMediaType},
		{"unknown layer", relay, relayTok, "application/json", `{"layers":["x"]}`, http.StatusBadRequest},
		{"empty name", relay, relayTok, "application/json", `{"layers":[""]}`, http.StatusBadRequest},
		{"twice", relay, relayTok, "application/json", `{"layers":["q","q"]}`, http.StatusBadRequest},
		{"no list", relay, relayTok, "application/json", `{}`, http.StatusBadRequest},
		{"unknown field", relay, relayTok, "application/json", `{"layers":["q"],"x":1}`, http.StatusBadRequest},
		{"not JSON", relay, relayTok, "application/json", `layers=q`, http.StatusBadRequest},
		{"trailing data", relay, relayTok, "application/json", `{"layers":["q"]} {"layers":[]}`, http.StatusBadRequest},
		{"too large", relay, relayTok, "application/json", `{"layers":["q"` + strings.Repeat(` `, 300) + `]}`, http.StatusRequestEntityTooLarge},
	} {
		res, body := e.do(http.MethodPut, c.path+"/layers", c.token, c.contentType, c.body)
		if res.StatusCode != c.status {
			t.Errorf("%s: %s: %s; want %d", c.name, res.Status, strings.TrimSpace(body), c.status)
		}
	}
}
