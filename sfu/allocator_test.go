package sfu

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// TestProbeVerdict: a probe wins only when the link kept up with it and carried clearly
// more than the budget; a link that fell behind still lifts the floor to what it carried.
func TestProbeVerdict(t *testing.T) {
	for _, c := range []struct {
		name                 string
		delivered, sent, had int
		carried              int
		won                  bool
	}{
		{"kept up, clearly more", 900_000, 900_000, 600_000, 900_000, true},
		{"burst arrived faster than sent", 1_200_000, 900_000, 600_000, 900_000, true},
		{"kept up, barely more", 640_000, 650_000, 600_000, 640_000, false},
		{"fell behind, more than had", 400_000, 550_000, 300_000, 360_000, false},
		{"fell behind, below had", 300_000, 550_000, 320_000, 0, false},
		{"nothing measured", 0, 0, 300_000, 0, false},
	} {
		carried, won := probeVerdict(c.delivered, c.sent, c.had)
		if carried != c.carried || won != c.won {
			t.Errorf("%s: carried %d, won %v; want %d, %v", c.name, carried, won, c.carried, c.won)
		}
	}
}

// TestAllocatorForgetsAProbeWhenTheLayersGo: a probe awaiting its judgement when the host
// leaves is dropped, so the allocator does not keep waking for a judgement that never comes.
func TestAllocatorForgetsAProbeWhenTheLayersGo(t *testing.T) {
	tr := newTrack(webrtc.RTPCodecTypeVideo, nil, nil, 1)
	dt := newTestDownTrack(tr, nil, 0)
	now := time.Now()
	a := &allocator{est: rembEstimate{dt}, video: dt, probing: true, judgeAt: now.Add(-time.Millisecond)}
	a.allocate(now)
	if a.probing || !a.judgeAt.IsZero() {
		t.Fatalf("with no layers left: probing %v, judgement due %v; want neither", a.probing, a.judgeAt)
	}
}
