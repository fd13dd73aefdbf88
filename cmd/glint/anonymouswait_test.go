package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestShutdownEndsAnonymousWaits: an anonymous viewer waiting for its room (the default
// anonymous_wait, 20 s) does not hold the server's shutdown up: it is answered 503 and the
// server closes within startApp's 10 s. /metrics shows the wait while it lasts.
func TestShutdownEndsAnonymousWaits(t *testing.T) {
	a, stop := startApp(t, testConfig(t))
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	offer := recvOffer(t)
	type answer struct {
		status int
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, a.URL()+"/whep/not-yet", strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Prefer", "wait=60")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		done <- answer{status: resp.StatusCode}
	}()
	waitMetric(t, a.URL(), "glint_signaling_anonymous_waiting 1")
	stopped = true
	stop() // fails the test if the server is not closed within 10 s
	select {
	case got := <-done:
		if got.err != nil || got.status != http.StatusServiceUnavailable {
			t.Errorf("the waiting viewer at shutdown: %d %v, want 503", got.status, got.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting viewer got no answer at shutdown")
	}
}

// waitMetric polls /metrics until a line is exactly line (liveness: a generous bound).
func waitMetric(t *testing.T, base, line string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(base + "/metrics"); err == nil {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if sc.Text() == line {
					_ = resp.Body.Close()
					return
				}
			}
			_ = resp.Body.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("/metrics never showed %q", line)
}

// recvOffer is a pion viewer's offer (audio and video, receive only); the peer never sees
// an answer.
func recvOffer(t *testing.T) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}
