package sfu_test

import (
	"context"
	"testing"
	"time"

	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// TestSimulcastLayersAndFallback: a host sends q, h and f; viewers capped at q and h settle
// on exactly those, an uncapped viewer on f (loopback leaves its bandwidth estimate room for
// every layer). When the encoder drops f, that viewer moves to h within two seconds, and
// every viewer's stream stays continuous for the decoder.
func TestSimulcastLayersAndFallback(t *testing.T) {
	s := newTestSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	log := sfutest.Logger()
	pub, err := sfutest.NewSimulcastPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(s, "sim", offer, log)
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	viewers := make([]*sfutest.Viewer, 3)
	for l := range viewers {
		viewers[l], err = sfutest.NewViewer(ctx, func(ctx context.Context, offer string) (string, error) {
			_, answer, err := s.Subscribe("sim", offer, sfu.SubscribeOptions{MaxLayer: l}, log)
			return answer, err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer viewers[l].Close()
	}
	// Long enough for the allocator to measure the layers and climb (1.5 s of headroom).
	if err := pub.SendFrames(ctx, 0, 120, 30, 30); err != nil {
		t.Fatal(err)
	}
	for l, v := range viewers {
		if err := v.WaitFrame(ctx, 110); err != nil {
			t.Fatalf("viewer capped at %d: %v", l, err)
		}
		// Layers attach as their first packets arrive, so a viewer may start on a lower
		// one; it must never exceed its cap and must settle on it.
		layers := v.Layers()
		for i, got := range layers {
			if int(got) > l || (i >= len(layers)-20 && int(got) != l) {
				t.Fatalf("viewer capped at %s got layers %v", sfu.LayerName(l), layers)
			}
		}
	}

	pub.StopLayer(sfu.LayerFull)
	start := time.Now()
	if err := pub.SendFrames(ctx, 200, 90, 300, 30); err != nil {
		t.Fatal(err)
	}
	full := viewers[sfu.LayerFull]
	layers, frames := full.Layers(), full.Frames()
	firstMid := -1
	for i, l := range layers {
		if l == sfu.LayerMid && frames[i] >= 200 {
			firstMid = i
			break
		}
	}
	if firstMid < 0 {
		t.Fatalf("the uncapped viewer never moved to h after f stopped: %s", full.Summary())
	}
	if moved := time.Duration(frames[firstMid]-200) * time.Second / 30; moved > 2*time.Second {
		t.Errorf("moved to h %s after f stopped, want within 2s", moved)
	}
	t.Logf("moved from f to h at frame %d (%s after the drop, %s test time)", frames[firstMid], time.Duration(frames[firstMid]-200)*time.Second/30, time.Since(start))
	for l, v := range viewers {
		if err := v.CheckContinuity(); err != nil {
			t.Errorf("viewer capped at %s: %v; %s", sfu.LayerName(l), err, v.Summary())
		}
	}
}

// TestBandwidthChoosesTheLayer: two uncapped viewers, one behind a 400 kbit/s link. Its
// bandwidth estimate falls with the loss and it leaves f (~750 kbit/s) for the lower layers,
// while the other stays on f.
func TestBandwidthChoosesTheLayer(t *testing.T) {
	s := newTestSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := sfutest.Logger()
	pub, err := sfutest.NewSimulcastPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(s, "bwe", offer, log)
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var subs []*sfu.Subscriber
	subscribe := func(ctx context.Context, offer string) (string, error) {
		sub, answer, err := s.Subscribe("bwe", offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerFull}, log)
		if err == nil {
			subs = append(subs, sub)
		}
		return answer, err
	}
	fast, err := sfutest.NewViewer(ctx, subscribe)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	slow, err := sfutest.NewViewer(ctx, subscribe, sfutest.WithBandwidth(400_000))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := pub.SendFrames(ctx, 0, 300, 30, 30); err != nil { // 10 s
		t.Fatal(err)
	}
	// Judged by what the server forwards at the end (the test viewer's own frame assembly
	// stalls on losses that a browser's jitter buffer would handle with a keyframe request).
	fastSt, slowSt := subs[0].VideoStats(), subs[1].VideoStats()
	t.Logf("fast viewer %+v; slow viewer %+v", fastSt, slowSt)
	if fastSt.Layer != sfu.LayerFull {
		t.Errorf("fast viewer on layer %d, want f", fastSt.Layer)
	}
	if slowSt.Layer == sfu.LayerFull || slowSt.Layer < 0 || slowSt.MaxLayer == sfu.LayerFull {
		t.Errorf("slow viewer on layer %d (granted %d), want below f", slowSt.Layer, slowSt.MaxLayer)
	}
	if slowSt.Estimate <= 0 || slowSt.Estimate > 600_000 {
		t.Errorf("slow viewer's video estimate %d bit/s behind a 400 kbit/s link", slowSt.Estimate)
	}
}
