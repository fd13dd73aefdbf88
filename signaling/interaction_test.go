package signaling_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestWHEPInteractionChannel: a WHEP viewer that opens the interaction data channel in its
// offer is in the room's interaction layer: it is told its media clock mapping (which puts
// the frames it receives at the times the host sent them), it receives chat sent over
// WebSocket, and what it sends over the channel is answered.
func TestWHEPInteractionChannel(t *testing.T) {
	e := newEnv(t, nil)
	withInteraction(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/show", e.token("show", auth.TokenOptions{Publish: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sending := make(chan error, 1)
	go func() { sending <- pub.SendFrames(ctx, 0, 30*20, 30, 30) }()
	defer func() { cancel(); <-sending }()

	viewerTok := e.token("show", auth.TokenOptions{Identity: "vera", Subscribe: true, Data: true})
	v, err := sfutest.NewViewer(ctx, e.signal("/whep/show", viewerTok, nil), sfutest.WithDataChannel(datachannel.Label))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	next := func(typ string) (datachannel.Envelope, map[string]any) {
		t.Helper()
		for {
			select {
			case b := <-v.Messages:
				var env datachannel.Envelope
				if err := json.Unmarshal(b, &env); err != nil {
					t.Fatalf("%s: %v", b, err)
				}
				if env.Type != typ {
					continue
				}
				var p map[string]any
				_ = json.Unmarshal(env.Payload, &p)
				return env, p
			case <-ctx.Done():
				t.Fatalf("no %s on the data channel", typ)
			}
		}
	}
	// The host's first sender report comes about a second in.
	_, clock := next(datachannel.TypeMediaClock)
	if clock["clockRate"] != float64(90000) {
		t.Fatalf("media.clock %v", clock)
	}
	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	ts := v.LastVideoTimestamp()
	capture := int64(clock["mediaTime"].(float64)) + int64(int32(ts-uint32(clock["rtpTimestamp"].(float64))))*1000/90000
	if d := sent.UnixMilli() - capture; d < -50 || d > 250 {
		t.Errorf("the mapping puts the viewer's newest frame %d ms before now, want a few frames", d)
	}

	ws := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "wendy", Subscribe: true, Data: true}))
	ws.send("chat.send", "w1", map[string]string{"text": "hello from the web"})
	ws.wantAck("w1")
	if env, msg := next("chat.message"); msg["text"] != "hello from the web" || env.From != "wendy" {
		t.Fatalf("chat over the data channel: %+v %v", env, msg)
	}

	req, _ := json.Marshal(datachannel.Envelope{V: 1, Type: "chat.send", ID: "v1", Payload: json.RawMessage(`{"text":"hi from webrtc"}`)})
	if err := v.DC.SendText(string(req)); err != nil {
		t.Fatal(err)
	}
	if env, _ := next(datachannel.TypeAck); env.ID != "v1" {
		t.Fatalf("ack %+v", env)
	}
	if got := ws.nextWhere("chat.message", func(m map[string]any) bool { return m["from"] == "vera" }); got["text"] != "hi from webrtc" {
		t.Fatalf("websocket client got %v", got)
	}
}
