package sfu_test

import (
	"context"
	"testing"
	"time"

	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// TestVP8TemporalLayers: a VP8 host with three temporal layers (180 + 90 + 90 kbit/s) and a
// viewer whose REMB says what it can take: 350 kbit/s drops layer 2 (15 fps), 100 kbit/s
// keeps layer 0 alone, 2 Mbit/s brings everything back. Throughout, the viewer sees dense
// sequence numbers and picture IDs, so its decoder never waits for a dropped picture.
func TestVP8TemporalLayers(t *testing.T) {
	s := newTestSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := sfutest.Logger()
	pub, err := sfutest.NewVP8Publisher(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(s, "temporal", offer, log)
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
		sub, answer, err = s.Subscribe("temporal", offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerFull}, log)
		return answer, err
	}, sfutest.WithREMB())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	sending := make(chan error, 1)
	go func() { sending <- pub.SendFrames(ctx, 30*40, 90, 30) }()
	defer func() { cancel(); <-sending }()

	// hold reports bps for d, then returns the highest temporal layer among the pictures
	// of the last second and whether every layer up to it was seen.
	hold := func(bps int, d time.Duration) (top int, all bool) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			_ = v.SendREMB(bps)
			sleep(ctx, 200*time.Millisecond)
		}
		var seen [3]bool
		for _, p := range v.VP8Pictures() {
			if time.Since(p.At) < time.Second {
				seen[p.TID] = true
				top = max(top, int(p.TID))
			}
		}
		all = true
		for l := 0; l <= top; l++ {
			all = all && seen[l]
		}
		return top, all
	}
	for _, step := range []struct {
		bps  int
		want int
	}{{2_000_000, 2}, {350_000, 1}, {100_000, 0}, {2_000_000, 2}} {
		top, all := hold(step.bps, 3*time.Second)
		if top != step.want || !all {
			t.Fatalf("REMB %d bit/s: temporal layers up to %d in the last second (all below seen: %v), want up to %d; %+v",
				step.bps, top, all, step.want, sub.VideoStats())
		}
	}
	pics := v.VP8Pictures()
	if len(pics) < 100 {
		t.Fatalf("only %d pictures", len(pics))
	}
	for i := 1; i < len(pics); i++ {
		if pics[i].ID != (pics[i-1].ID+1)&0x7fff {
			t.Fatalf("picture ID %d after %d (picture %d of %d): a hole the decoder would wait on", pics[i].ID, pics[i-1].ID, i, len(pics))
		}
	}
	if err := v.VideoGaps(); err != nil {
		t.Fatal(err)
	}
}
