package signaling_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

const testKey, testSecret = "devkey", "secret-for-tests"

type env struct {
	t   *testing.T
	sfu *sfu.SFU
	sig *signaling.Server
	srv *httptest.Server
}

type (
	sfuConfig = sfu.Config
	sigConfig = signaling.Config
)

func newEnv(t *testing.T, tweak func(*sfuConfig, *sigConfig)) *env {
	t.Helper()
	sc := sfu.DefaultConfig()
	sc.UDPAddr = "127.0.0.1:0"
	sc.KeyframeInterval = 100 * time.Millisecond
	gc := signaling.DefaultConfig()
	gc.RatePerSecond, gc.RateBurst = 1000, 1000
	// Every test client is 127.0.0.1: the per-address share of handshakes in flight,
	// max(2, max_handshakes/4), must not refuse a test's crowd of viewers joining at once
	// (TestHandshakeBound sets its own bound and addresses).
	sc.MaxHandshakes = 400
	if tweak != nil {
		tweak(&sc, &gc)
	}
	log := sfutest.Logger()
	s, err := sfu.New(sc, log)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(map[string]string{testKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signaling.New(gc, s, v, log)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sfu: s, sig: sig, srv: httptest.NewServer(sig.Handler())}
	t.Cleanup(func() {
		e.srv.Close()
		sig.Close(context.Background())
		_ = s.Close()
	})
	return e
}

func (e *env) token(room string, o auth.TokenOptions) string {
	e.t.Helper()
	o.Room = room
	if o.Identity == "" {
		o.Identity = "tester"
	}
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	tok, err := auth.Issue(testKey, testSecret, o)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// post sends an SDP offer and returns the response with its body read.
func (e *env) post(path, token, contentType, body string) (*http.Response, string) {
	e.t.Helper()
	return e.do(http.MethodPost, path, token, contentType, body)
}

func (e *env) do(method, path, token, contentType, body string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signal is an sfutest.Signal over WHIP or WHEP; it reports each resource URL to created.
func (e *env) signal(path, token string, created func(location string)) sfutest.Signal {
	return func(ctx context.Context, offer string) (string, error) {
		resp, body := e.post(path, token, "application/sdp", offer)
		if resp.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("POST %s: %s: %s", path, resp.Status, body)
		}
		if created != nil {
			created(resp.Header.Get("Location"))
		}
		return body, nil
	}
}

// offerFrom makes a real browser-shaped publisher offer (sendonly H.264/VP8 + Opus) from a
// pion peer that is then left alone: it never sees an answer.
func offerFrom(t *testing.T) string { return pionOffer(t, webrtc.RTPTransceiverDirectionSendonly) }

// viewerOfferFrom is the recvonly (WHEP) counterpart of offerFrom.
func viewerOfferFrom(t *testing.T) string {
	return pionOffer(t, webrtc.RTPTransceiverDirectionRecvonly)
}

func pionOffer(t *testing.T, dir webrtc.RTPTransceiverDirection) string {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	return engineOffer(t, m, dir, webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo)
}

// engineOffer is a pion peer's offer, with every candidate gathered, of one transceiver
// per kind in dir, with the codecs m has; the peer never sees an answer.
func engineOffer(t *testing.T, m *webrtc.MediaEngine, dir webrtc.RTPTransceiverDirection, kinds ...webrtc.RTPCodecType) string {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range kinds {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return pc.LocalDescription().SDP
}
