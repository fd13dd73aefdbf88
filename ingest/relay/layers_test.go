package relay

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// noWarmup turns dynacast's warm-up off: what a host is told is the demand at once.
func noWarmup(c *sfu.Config) { c.DynacastWarmup = 0 }

// TestRelayCarriesEveryLayer: a simulcast host publishes to the origin; on the relay's
// node a viewer capped at the lowest layer gets that layer and one uncapped climbs to the
// full one, as on the origin itself; and the origin's host is asked for what the relay
// node's viewers need: the lowest layer alone while only the capped viewer watches, every
// layer while the other does, the lowest alone again once it has left.
func TestRelayCarriesEveryLayer(t *testing.T) {
	originSFU, local, srv, dir := relayRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	hosts := make(chan *whip.Session, 1)
	pub, err := sfutest.NewSimulcastPublisher(ctx, func(_ context.Context, offer string) (string, error) {
		s, answer, err := whip.Publish(originSFU, "show", offer, sfutest.Logger())
		if err == nil {
			hosts <- s
		}
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	host := <-hosts
	go func() { _ = pub.SendFrames(ctx, 0, 30*80, 30, 30) }()

	var mu sync.Mutex
	var told [3]bool
	stop := host.Room().OnLayerDemand(host.Peer, func(w [3]bool) {
		mu.Lock()
		told = w
		mu.Unlock()
	})
	defer stop()
	asked := func(want [3]bool, while string) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			got := told
			mu.Unlock()
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the origin's host is asked for layers %v; want %v", while, got, want)
			}
		}
	}

	r := relaysOf(ctx, t, local, dir, srv.URL)
	defer r.Close()
	if !r.Want("show") {
		t.Fatal("no relay")
	}
	onStage(t, local, "show")
	watch := func(layer int) *sfutest.Viewer {
		t.Helper()
		v, err := sfutest.NewViewer(ctx, func(_ context.Context, offer string) (string, error) {
			_, answer, err := local.Subscribe("show", offer, sfu.SubscribeOptions{MaxLayer: layer}, sfutest.Logger())
			return answer, err
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	small := watch(sfu.LayerLow)
	defer small.Close()
	asked([3]bool{true, false, false}, "one viewer on the relay's node, capped at q")
	if err := small.WaitLayerRun(ctx, 0, 30); err != nil {
		t.Fatal(err)
	}

	full := watch(sfu.LayerFull)
	asked([3]bool{true, true, true}, "an uncapped viewer joined on the relay's node")
	if err := full.WaitLayerRun(ctx, 2, 30); err != nil {
		t.Fatal(err)
	}
	if got := small.Layers(); slices.Contains(got, 1) || slices.Contains(got, 2) {
		t.Fatalf("the capped viewer got frames of a layer above q: %v", got)
	}
	_ = full.Close()
	asked([3]bool{true, false, false}, "the uncapped viewer left")
	t.Logf("capped viewer: %s; uncapped: %s", small.Summary(), full.Summary())
}

// TestRelayHostWithoutSimulcast: a host without simulcast (RTMP, OBS) reaches the relay's
// node as its f layer alone; a viewer there capped at q is given it, as on the origin, and
// the relay never asks the origin to stop it (it did: the viewer wanted q alone, which
// does not exist, and got nothing).
func TestRelayHostWithoutSimulcast(t *testing.T) {
	originSFU, local, srv, dir := relayRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	plainHost(ctx, t, originSFU)
	r := relaysOf(ctx, t, local, dir, srv.URL)
	defer r.Close()
	if !r.Want("show") {
		t.Fatal("no relay")
	}
	onStage(t, local, "show")
	v, err := sfutest.NewViewer(ctx, func(_ context.Context, offer string) (string, error) {
		_, answer, err := local.Subscribe("show", offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerLow}, sfutest.Logger())
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	time.Sleep(time.Second) // the relay has told the origin what this node wants
	n := len(v.Frames())
	wait, cancelWait := context.WithTimeout(ctx, 20*time.Second)
	defer cancelWait()
	for len(v.Frames()) < n+60 {
		select {
		case <-wait.Done():
			t.Fatalf("the capped viewer on the relay's node got %d frames in 20 s: %s", len(v.Frames())-n, v.Summary())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
