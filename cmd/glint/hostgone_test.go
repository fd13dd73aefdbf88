package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// stageEvent is a room.live or room.ended a viewer received, and when.
type stageEvent struct {
	Type   string
	Reason string
	Epoch  uint64
	At     time.Time
}

// TestVanishedHostViewersTold: a host publishing over WHIP is killed (its sockets close:
// no DELETE, no RTCP BYE, no DTLS close_notify). A viewer on the WHEP data channel and
// one on the WebSocket are both told room.ended, reason "gone", within 3 s; the host
// publishes again and both are told room.live, and the WebRTC viewer's picture resumes
// without it reconnecting.
func TestVanishedHostViewersTold(t *testing.T) {
	cfg := testConfig(t)
	a, stop := startApp(t, cfg)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	issue := func(o auth.TokenOptions) string {
		o.Room, o.TTL = "show", time.Hour
		tok, err := auth.Issue(devKey, devSecret, o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hostTok := issue(auth.TokenOptions{Identity: "host", Publish: true})
	viewerTok := issue(auth.TokenOptions{Identity: "viewer", Subscribe: true})

	host, stopHost := startHost(ctx, t, a, hostTok, 0, sfutest.WithVanish())
	viewer, err := sfutest.NewViewer(ctx, httpSignal(a.URL()+"/whep/show", viewerTok), sfutest.WithDataChannel(datachannel.Label))
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	dcEvents := make(chan stageEvent, 16)
	go func() {
		for {
			select {
			case m := <-viewer.Messages:
				forwardStage(m, dcEvents)
			case <-ctx.Done():
				return
			}
		}
	}()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(a.URL(), "http")+"/ws/show?access_token="+viewerTok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	wsEvents := make(chan stageEvent, 16)
	go func() {
		for {
			_, m, err := ws.ReadMessage()
			if err != nil {
				return
			}
			forwardStage(m, wsEvents)
		}
	}()

	// Live on join (both joined a live room).
	for name, ch := range map[string]chan stageEvent{"data channel": dcEvents, "websocket": wsEvents} {
		if ev := nextStage(t, ch, 10*time.Second); ev.Type != datachannel.TypeRoomLive || ev.Epoch != 1 {
			t.Fatalf("%s viewer joining a live room: %+v, want room.live epoch 1", name, ev)
		}
	}
	if err := viewer.WaitFrame(ctx, 30); err != nil {
		t.Fatal(err)
	}

	killed := time.Now()
	if err := host.Vanish(); err != nil {
		t.Fatal(err)
	}
	stopHost() // what it writes from now on goes nowhere
	for name, ch := range map[string]chan stageEvent{"data channel": dcEvents, "websocket": wsEvents} {
		ev := nextStage(t, ch, 5*time.Second)
		if ev.Type != datachannel.TypeRoomEnded || ev.Reason != datachannel.EndedGone {
			t.Fatalf("%s viewer after the host was killed: %+v, want room.ended gone", name, ev)
		}
		if d := ev.At.Sub(killed); d > 3*time.Second {
			t.Fatalf("%s viewer told the host is gone %s after it was killed, want within 3 s", name, d)
		}
		t.Logf("%s viewer told the host is gone after %s", name, ev.At.Sub(killed).Round(time.Millisecond))
	}

	// The host comes back: both are told, and the picture resumes on the same session.
	_, again := startHost(ctx, t, a, hostTok, 1000)
	for name, ch := range map[string]chan stageEvent{"data channel": dcEvents, "websocket": wsEvents} {
		if ev := nextStage(t, ch, 5*time.Second); ev.Type != datachannel.TypeRoomLive || ev.Epoch != 2 {
			t.Fatalf("%s viewer after the host came back: %+v, want room.live epoch 2", name, ev)
		}
	}
	if err := viewer.WaitFrame(ctx, 1030); err != nil {
		t.Fatal(err)
	}
	again()
}

// startHost publishes over WHIP and sends frames numbered from first until ctx ends or
// stopSending is called, which returns once sending has stopped. The publisher is closed
// at the end of the test.
func startHost(ctx context.Context, t *testing.T, a *app, token string, first uint32, opts ...sfutest.PublisherOption) (pub *sfutest.Publisher, stopSending func()) {
	t.Helper()
	pub, err := sfutest.NewPublisher(ctx, httpSignal(a.URL()+"/whip/show", token), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = pub.SendFrames(ctx, first, 30*60, 30, 30)
	}()
	return pub, func() { cancel(); <-done }
}

// httpSignal is a WHIP or WHEP POST to url with a bearer token.
func httpSignal(url, token string) sfutest.Signal {
	return func(ctx context.Context, offer string) (string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("%s: %s: %s", url, resp.Status, b)
		}
		return string(b), nil
	}
}

// forwardStage passes a room.live or room.ended message on to ch, stamped with its arrival.
func forwardStage(msg []byte, ch chan<- stageEvent) {
	var env datachannel.Envelope
	if json.Unmarshal(msg, &env) != nil || (env.Type != datachannel.TypeRoomLive && env.Type != datachannel.TypeRoomEnded) {
		return
	}
	ev := stageEvent{Type: env.Type, At: time.Now()}
	_ = json.Unmarshal(env.Payload, &ev)
	ch <- ev
}

// nextStage is the next stage event on ch, within d.
func nextStage(t *testing.T, ch <-chan stageEvent, d time.Duration) stageEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(d):
		t.Fatalf("no room.live or room.ended within %s", d)
		return stageEvent{}
	}
}
