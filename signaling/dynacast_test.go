package signaling_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// layersMsg is one media.layers a host received, and when.
type layersMsg struct {
	at      time.Time
	layers  []string
	seq     uint64
	sending [3]bool // what the host sends after applying it
}

// obeyLayers does with every media.layers the host receives what the SDK's Publisher does
// (sends the layers named, and always the lowest), and hands each message on.
func obeyLayers(pub *sfutest.SimulcastPublisher, stop <-chan struct{}) <-chan layersMsg {
	out := make(chan layersMsg, 64)
	go func() {
		for {
			var b []byte
			select {
			case b = <-pub.Messages:
			case <-stop:
				return
			}
			var env datachannel.Envelope
			if json.Unmarshal(b, &env) != nil || env.Type != datachannel.TypeMediaLayers {
				continue
			}
			var p datachannel.MediaLayers
			_ = json.Unmarshal(env.Payload, &p)
			out <- layersMsg{time.Now(), p.Layers, env.Seq, pub.Obey(p.Layers)}
		}
	}()
	return out
}

// TestHostToldWantedLayers: a WHIP host sending simulcast with the interaction channel open
// is told (media.layers, a direct message) which of its layers its viewers want, each
// viewer every layer up to its cap: every layer during the new session's warm-up, then none
// before anyone watches; all three for an uncapped
// viewer; q once that viewer caps itself at q; q and h when a second viewer capped at h
// joins, q again when it leaves; all three again, at once, when the first lifts its cap;
// none when it leaves. The host, which stops the layers nobody wants as the SDK does,
// never starves a viewer: each gets its picture on the layer it may have.
func TestHostToldWantedLayers(t *testing.T) {
	e := newEnv(t, nil)
	withInteraction(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	hostTok := e.token("show", auth.TokenOptions{Identity: "host", Publish: true, Data: true})
	pub, err := sfutest.NewSimulcastPublisher(ctx, e.signal("/whip/show", hostTok, nil), sfutest.WithHostChannel(datachannel.Label))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	told := obeyLayers(pub, ctx.Done())
	sending := make(chan error, 1)
	go func() { sending <- pub.SendFrames(ctx, 0, 30*80, 30, 30) }()
	defer func() { cancel(); <-sending }()

	var history [][]string
	// until waits for a media.layers naming exactly want and returns it.
	until := func(want []string, within time.Duration) layersMsg {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case m := <-told:
				history = append(history, m.layers)
				if m.seq != 0 {
					t.Errorf("media.layers with seq %d: a direct message has none", m.seq)
				}
				if slices.Equal(m.layers, want) {
					return m
				}
			case <-deadline:
				t.Fatalf("host not told %v within %v; told %v", want, within, history)
			}
		}
	}
	until([]string{}, 15*time.Second)
	if !slices.Equal(history[0], []string{"q", "h", "f"}) {
		t.Errorf("first told %v, want every layer (the warm-up, sfu.Config.DynacastWarmup)", history[0])
	}

	viewerTok := e.token("show", auth.TokenOptions{Identity: "vera", Subscribe: true})
	vera, err := sfutest.NewViewer(ctx, e.signal("/whep/show", viewerTok, nil), sfutest.WithDataChannel(datachannel.Label))
	if err != nil {
		t.Fatal(err)
	}
	defer vera.Close()
	if m := until([]string{"q", "h", "f"}, 15*time.Second); m.sending != [3]bool{true, true, true} {
		t.Errorf("host sends %v for one uncapped viewer, want every layer", m.sending)
	}
	onLayer(t, vera, sfu.LayerFull, 15*time.Second)
	waitOpen(ctx, t, vera)

	sendOnChannel(t, vera, "cap-q", datachannel.TypeMediaLayer, `{"layer":"q"}`)
	if m := until([]string{"q"}, 5*time.Second); m.sending != [3]bool{true, false, false} {
		t.Errorf("host sends %v for one viewer capped at q, want q only", m.sending)
	}
	onLayer(t, vera, sfu.LayerLow, 10*time.Second)

	wendy, err := sfutest.NewViewer(ctx, e.signal("/whep/show?layer=h", viewerTok, nil))
	if err != nil {
		t.Fatal(err)
	}
	until([]string{"q", "h"}, 15*time.Second)
	onLayer(t, wendy, sfu.LayerMid, 15*time.Second) // h resumed, and the viewer climbed to it
	_ = wendy.Close()
	until([]string{"q"}, 5*time.Second)

	time.Sleep(time.Second) // h and f have stopped: nothing of them flows
	lifted := time.Now()
	sendOnChannel(t, vera, "cap-f", datachannel.TypeMediaLayer, `{"layer":"f"}`)
	deadline := time.After(5 * time.Second)
	for asked := false; !asked; {
		select {
		case m := <-told:
			history = append(history, m.layers)
			if slices.Contains(m.layers, "f") {
				asked = true
				d := m.at.Sub(lifted)
				t.Logf("host told f is wanted %v after the viewer lifted its cap", d.Round(time.Millisecond))
				if d > 300*time.Millisecond {
					t.Errorf("host told f is wanted %v after the viewer lifted its cap, want within 300 ms", d)
				}
			}
		case <-deadline:
			t.Fatalf("host not told f is wanted after the viewer lifted its cap; told %v", history)
		}
	}
	onLayer(t, vera, sfu.LayerFull, 15*time.Second)
	if err := vera.CheckContinuity(); err != nil {
		t.Errorf("%v; %s", err, vera.Summary())
	}
	_ = vera.Close()
	until([]string{}, 5*time.Second)
	t.Logf("host told %v", history)
}

// onLayer waits until the frames v shows are of layer want.
func onLayer(t *testing.T, v *sfutest.Viewer, want byte, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); ; time.Sleep(50 * time.Millisecond) {
		if l := v.Layers(); len(l) > 0 && l[len(l)-1] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("viewer not on layer %d within %v; %s", want, within, v.Summary())
		}
	}
}

// waitOpen waits until v's data channel is open.
func waitOpen(ctx context.Context, t *testing.T, v *sfutest.Viewer) {
	t.Helper()
	for v.DC.ReadyState() != webrtc.DataChannelStateOpen {
		select {
		case <-ctx.Done():
			t.Fatal("the viewer's data channel never opened")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
