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
