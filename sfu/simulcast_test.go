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
// every layer), each paced to its estimate. When the encoder drops f, that viewer moves to h
// within two seconds, and every viewer's stream stays continuous for the decoder.
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
	// A host with simulcast gives every viewer an estimate, and the media socket paces each.
	if n := sfu.PacedViewers(s); n != len(viewers) {
		t.Errorf("%d of %d viewers paced", n, len(viewers))
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

// TestREMBChoosesTheLayer: a player without transport-wide feedback reports its bandwidth
// with REMB; the allocator spends that instead: 300 kbit/s gets h (180 kbit/s here, f is
// 720), and 5 Mbit/s gets f back after the climb's hold.
func TestREMBChoosesTheLayer(t *testing.T) {
	s := newTestSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	log := sfutest.Logger()
	pub, err := sfutest.NewSimulcastPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(s, "remb", offer, log)
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var sub *sfu.Subscriber
	v, err := sfutest.NewViewer(ctx, func(ctx context.Context, offer string) (string, error) {
		var answer string
		var err error
		sub, answer, err = s.Subscribe("remb", offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerFull}, log)
		return answer, err
	}, sfutest.WithREMB())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	sending := make(chan error, 1)
	go func() { sending <- pub.SendFrames(ctx, 0, 300, 30, 30) }()
	defer func() { cancel(); <-sending }()

	// report keeps sending a REMB of bps every 250 ms (browsers send one about every second
	// or on change) until the viewer's layer is want, within d.
	report := func(bps, want int, d time.Duration) bool {
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			_ = v.SendREMB(bps) // before the first video packet there is no SSRC to name
			if sub.VideoStats().Layer == want {
				return true
			}
			select {
			case <-ctx.Done():
				return false
			case <-time.After(250 * time.Millisecond):
			}
		}
		return false
	}
	if !report(300_000, sfu.LayerMid, 5*time.Second) {
		t.Fatalf("REMB of 300 kbit/s: %+v, want layer h", sub.VideoStats())
	}
	if st := sub.VideoStats(); st.Estimate > 300_000 {
		t.Errorf("video budget %d above the viewer's REMB", st.Estimate)
	}
	if !report(5_000_000, sfu.LayerFull, 6*time.Second) {
		t.Fatalf("REMB of 5 Mbit/s: %+v, want layer f", sub.VideoStats())
	}
}
