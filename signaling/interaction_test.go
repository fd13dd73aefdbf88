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

	next := func(typ string) (datachannel.Envelope, map[string]any) { return nextOnChannel(ctx, t, v, typ) }
	// The host's first sender report comes about a second in.
	_, clock := next(datachannel.TypeMediaClock)
	if clock["clockRate"] != float64(90000) {
		t.Fatalf("media.clock %v", clock)
	}
	time.Sleep(500 * time.Millisecond)
	if d := newestFrameAge(v, clock, 0); d < -50 || d > 250 {
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

// TestMediaClockAfterHostRestart: when the host reconnects (a new session, here from a
// machine whose clock is 7 s ahead), a viewer that stays is sent the new mapping, and it puts
// the frames it now receives on the new host's clock.
func TestMediaClockAfterHostRestart(t *testing.T) {
	const skew = 7 * time.Second
	e := newEnv(t, nil)
	withInteraction(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	publish := e.signal("/whip/show", e.token("show", auth.TokenOptions{Publish: true}), nil)
	first, err := sfutest.NewPublisher(ctx, publish)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	sending := make(chan error, 2)
	go func() { sending <- first.SendFrames(ctx, 0, 30*4, 30, 30) }()

	viewerTok := e.token("show", auth.TokenOptions{Identity: "vera", Subscribe: true})
	v, err := sfutest.NewViewer(ctx, e.signal("/whep/show", viewerTok, nil), sfutest.WithDataChannel(datachannel.Label))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	_, clock := nextOnChannel(ctx, t, v, datachannel.TypeMediaClock)
	if d := newestFrameAge(v, clock, 0); d < -50 || d > 250 {
		t.Fatalf("first host: the mapping puts the newest frame %d ms before now", d)
	}
	if err := <-sending; err != nil {
		t.Fatal(err)
	}

	second, err := sfutest.NewPublisher(ctx, publish, sfutest.WithClockOffset(skew))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	go func() { sending <- second.SendFrames(ctx, 1000, 30*20, 30, 30) }()
	defer func() { cancel(); <-sending }()
	if err := v.WaitFrame(ctx, 1000+30*3); err != nil {
		t.Fatalf("the viewer did not follow the new host: %v; %s", err, v.Summary())
	}
	// The first host's mapping may be resent before the second's comes (a loaded machine
	// paces the first host's frames late, and its clock drifts past the 5 ms tolerance):
	// the viewer must get one that puts its frames on the new host's clock before ctx ends.
	for {
		_, clock = nextOnChannel(ctx, t, v, datachannel.TypeMediaClock)
		d := newestFrameAge(v, clock, skew)
		if d >= -50 && d <= 250 {
			return
		}
		t.Logf("a mapping %d ms off the second host's clock (the first host's: ~%d)", d, skew.Milliseconds())
	}
}

// nextOnChannel returns the next message of type typ on v's interaction channel, skipping
// others; it fails the test when none comes before ctx ends.
func nextOnChannel(ctx context.Context, t *testing.T, v *sfutest.Viewer, typ string) (datachannel.Envelope, map[string]any) {
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

// newestFrameAge is how long before the host's now (this machine's clock plus skew) the
// media.clock mapping puts the newest video frame v received, in milliseconds.
func newestFrameAge(v *sfutest.Viewer, clock map[string]any, skew time.Duration) int64 {
	now := time.Now().Add(skew)
	ts := v.LastVideoTimestamp()
	capture := int64(clock["mediaTime"].(float64)) + int64(int32(ts-uint32(clock["rtpTimestamp"].(float64))))*1000/90000
	return now.UnixMilli() - capture
}

// TestLayerCapOverTheDataChannel: a WHEP viewer of a simulcast host caps its own layer
// with media.layer (as a player does when its video shrinks) and lifts the cap again; bad
// layer names are answered with bad_payload, and media.layer over a WebSocket (no video)
// with rejected.
func TestLayerCapOverTheDataChannel(t *testing.T) {
	e := newEnv(t, nil)
	withInteraction(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub, err := sfutest.NewSimulcastPublisher(ctx, e.signal("/whip/show", e.token("show", auth.TokenOptions{Publish: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sending := make(chan error, 1)
	go func() { sending <- pub.SendFrames(ctx, 0, 30*40, 30, 30) }()
	defer func() { cancel(); <-sending }()

	v, err := sfutest.NewViewer(ctx, e.signal("/whep/show", e.token("show", auth.TokenOptions{Identity: "vera", Subscribe: true}), nil), sfutest.WithDataChannel(datachannel.Label))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	waitLayer := func(want byte, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if l := v.Layers(); len(l) > 0 && l[len(l)-1] == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("viewer not on layer %d within %v; %s", want, within, v.Summary())
	}
	waitLayer(2, 15*time.Second) // uncapped, on loopback: f

	sendOnChannel(t, v, "l1", datachannel.TypeMediaLayer, `{"layer":"q"}`)
	if env, _ := nextOnChannel(ctx, t, v, datachannel.TypeAck); env.ID != "l1" {
		t.Fatalf("ack %+v", env)
	}
	waitLayer(0, 5*time.Second)
	sendOnChannel(t, v, "l2", datachannel.TypeMediaLayer, `{"layer":"f"}`)
	waitLayer(2, 15*time.Second)

	for id, payload := range map[string]string{"bad1": `{"layer":"x"}`, "bad2": `{}`, "bad3": `{"layer":"q","extra":1}`} {
		sendOnChannel(t, v, id, datachannel.TypeMediaLayer, payload)
		env, p := nextOnChannel(ctx, t, v, datachannel.TypeError)
		if env.ID != id && p["ref"] != id || p["code"] != datachannel.CodeBadPayload {
			t.Errorf("%s: %+v %v", payload, env, p)
		}
	}
	ws := e.mustDialWS("show", e.token("show", auth.TokenOptions{Identity: "wendy", Subscribe: true}))
	ws.send(datachannel.TypeMediaLayer, "w1", map[string]string{"layer": "q"})
	ws.wantError("w1", datachannel.CodeRejected)
}

// sendOnChannel sends one client message on v's interaction channel.
func sendOnChannel(t *testing.T, v *sfutest.Viewer, id, typ, payload string) {
	t.Helper()
	req, _ := json.Marshal(datachannel.Envelope{V: 1, Type: typ, ID: id, Payload: json.RawMessage(payload)})
	if err := v.DC.SendText(string(req)); err != nil {
		t.Fatal(err)
	}
}
