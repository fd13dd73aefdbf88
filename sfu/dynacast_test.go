package sfu_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// TestLayerDemand is dynacast's signal: with viewers capped at q and at h, the host is told
// that f is wanted by nobody; when the h viewer leaves, only q is wanted; every change is
// reported once, in order.
func TestLayerDemand(t *testing.T) {
	s := newTestSFU(t, noWarmup)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := sfutest.Logger()
	var host *whip.Session
	pub, err := sfutest.NewSimulcastPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		sess, answer, err := whip.Publish(s, "dyn", offer, log)
		host = sess
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	var mu sync.Mutex
	var reports [][3]bool
	s.Room("dyn").OnLayerDemand(host.Peer, func(w [3]bool) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, w)
	})
	subs := make([]*sfu.Subscriber, 2)
	for i, layer := range []int{sfu.LayerLow, sfu.LayerMid} {
		v, err := sfutest.NewViewer(ctx, func(ctx context.Context, offer string) (string, error) {
			sub, answer, err := s.Subscribe("dyn", offer, sfu.SubscribeOptions{MaxLayer: layer}, log)
			subs[i] = sub
			return answer, err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
	}
	sending := make(chan error, 1)
	go func() { sending <- pub.SendFrames(ctx, 0, 60, 30, 30) }()
	if err := <-sending; err != nil {
		t.Fatal(err)
	}
	// Each viewer wants every layer up to its cap.
	if got := s.Room("dyn").Track(webrtc.RTPCodecTypeVideo).LayerDemand(); got != [3]int{2, 1, 0} {
		t.Errorf("demand with viewers capped at q and h: %v, want [2 1 0]", got)
	}
	subs[1].Close()
	if got := s.Room("dyn").Track(webrtc.RTPCodecTypeVideo).LayerDemand(); got != [3]int{1, 0, 0} {
		t.Errorf("demand after the h viewer left: %v, want [1 0 0]", got)
	}
	mu.Lock()
	defer mu.Unlock()
	// The host is told once its simulcast video is on the stage (both viewers were there
	// by then), and when the h viewer leaves. The h viewer starts on q and climbs to h,
	// but wants both throughout: no report in between.
	want := [][3]bool{{true, true, false}, {true, false, false}}
	if len(reports) != len(want) {
		t.Fatalf("reports %v, want %v", reports, want)
	}
	for i := range want {
		if reports[i] != want[i] {
			t.Fatalf("reports %v, want %v", reports, want)
		}
	}
}

// noWarmup turns dynacast's warm-up off, for tests of what a host is told once it is over
// (TestDynacastWarmup tests the warm-up).
func noWarmup(c *sfu.Config) { c.DynacastWarmup = 0 }

// TestDynacastWarmup: a new host session whose only viewer is capped at q is asked for
// every layer during its warm-up, so that its browser probes its uplink for all of them,
// and told the demand (q only) when the warm-up ends; a listener stopped before the end is
// told nothing more.
func TestDynacastWarmup(t *testing.T) {
	const warmup = 1500 * time.Millisecond
	s := newTestSFU(t, func(c *sfu.Config) { c.DynacastWarmup = warmup })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	host := newDynacastHost(ctx, t, s, "warm")
	var stopped [][3]bool
	var mu sync.Mutex
	stop := s.Room("warm").OnLayerDemand(host.sess.Peer, func(w [3]bool) {
		mu.Lock()
		defer mu.Unlock()
		stopped = append(stopped, w)
	})
	v, err := sfutest.NewViewer(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := s.Subscribe("warm", offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerLow}, sfutest.Logger())
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	sending := make(chan error, 1)
	go func() { sending <- host.pub.SendFrames(ctx, 0, 30*10, 30, 30) }()
	defer func() { cancel(); <-sending }()

	// The second listener is stopped as soon as it is first told, well before its warm-up
	// (begun then) ends.
	if !waitFor(ctx, 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(stopped) > 0
	}) {
		t.Fatal("the second listener was never told")
	}
	stop()
	host.waitWanted(t, [3]bool{true, false, false}, 10*time.Second)
	told := host.told()
	if len(told) < 2 || told[0] != [3]bool{true, true, true} {
		t.Fatalf("told %v: want every layer first (the warm-up), then q only", told)
	}
	time.Sleep(warmup) // the stopped listener's warm-up has ended too
	mu.Lock()
	defer mu.Unlock()
	for _, w := range stopped {
		if w != [3]bool{true, true, true} {
			t.Fatalf("the stopped listener was told %v: told %v", w, stopped)
		}
	}
}
