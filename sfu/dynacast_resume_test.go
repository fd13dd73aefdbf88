package sfu_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// dynacastHost is a pion simulcast host that does what the SDK's Publisher does with the
// demand it is told: it sends the layers some reader wants, and always the lowest.
type dynacastHost struct {
	pub  *sfutest.SimulcastPublisher
	sess *whip.Session

	mu      sync.Mutex
	reports []report
	changed chan struct{}
}

type report struct {
	at     time.Time
	wanted [3]bool
}

func newDynacastHost(ctx context.Context, t *testing.T, s *sfu.SFU, room string) *dynacastHost {
	t.Helper()
	h := &dynacastHost{changed: make(chan struct{}, 1)}
	var err error
	h.pub, err = sfutest.NewSimulcastPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		sess, answer, err := whip.Publish(s, room, offer, sfutest.Logger())
		h.sess = sess
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.pub.Close() })
	stop := s.Room(room).OnLayerDemand(h.sess.Peer, h.apply)
	t.Cleanup(stop)
	return h
}

func (h *dynacastHost) apply(wanted [3]bool) {
	for l, w := range wanted {
		if w || l == sfu.LayerLow {
			h.pub.ResumeLayer(l)
		} else {
			h.pub.StopLayer(l)
		}
	}
	h.mu.Lock()
	h.reports = append(h.reports, report{time.Now(), wanted})
	h.mu.Unlock()
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

// waitWanted waits until the host was last told want, and returns when it was told.
func (h *dynacastHost) waitWanted(t *testing.T, want [3]bool, within time.Duration) time.Time {
	t.Helper()
	deadline := time.After(within)
	for {
		h.mu.Lock()
		n := len(h.reports)
		var last report
		if n > 0 {
			last = h.reports[n-1]
		}
		h.mu.Unlock()
		if n > 0 && last.wanted == want {
			return last.at
		}
		select {
		case <-h.changed:
		case <-deadline:
			t.Fatalf("host not told %v within %v; told %v", want, within, h.told())
		}
	}
}

func (h *dynacastHost) told() [][3]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([][3]bool, len(h.reports))
	for i, r := range h.reports {
		out[i] = r.wanted
	}
	return out
}

// waitLayer waits until sub is forwarded layer want.
func waitLayer(t *testing.T, sub *sfu.Subscriber, want int, within time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(within); sub.VideoStats().Layer != want; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("viewer not on layer %s within %v: %+v", sfu.LayerName(want), within, sub.VideoStats())
		}
	}
}

// TestDynacastRaisedCapResumesAtOnce: a viewer capped at q is all a host has, so it is told
// only q is wanted and stops h and f. When the viewer lifts its cap, the host is told at
// once that every layer is wanted, although nothing of h or f flows for the viewer's
// allocator to see; the host resumes them and the viewer climbs onto f.
func TestDynacastRaisedCapResumesAtOnce(t *testing.T) {
	s := newTestSFU(t, noWarmup)
	ctx, cancel := context.WithTimeout(context.Background(), 70*time.Second)
	defer cancel()
	log := sfutest.Logger()
	host := newDynacastHost(ctx, t, s, "dynup")
	var sub *sfu.Subscriber
	v, err := sfutest.NewViewer(ctx, func(ctx context.Context, offer string) (string, error) {
		var answer string
		var err error
		sub, answer, err = s.Subscribe("dynup", offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerLow}, log)
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	sending := make(chan error, 1)
	go func() { sending <- host.pub.SendFrames(ctx, 0, 60*30, 30, 30) }()
	defer func() { cancel(); <-sending }()

	host.waitWanted(t, [3]bool{true, false, false}, 5*time.Second)
	if got := host.pub.Sending(); got != [3]bool{true, false, false} {
		t.Fatalf("host sends %v, want q only", got)
	}
	waitLayer(t, sub, sfu.LayerLow, 5*time.Second)
	time.Sleep(time.Second) // h and f have stopped flowing for the allocator

	raised := time.Now()
	if err := sub.SetLayerCap(sfu.LayerFull); err != nil {
		t.Fatal(err)
	}
	told := host.waitWanted(t, [3]bool{true, true, true}, 5*time.Second)
	if d := told.Sub(raised); d > 300*time.Millisecond {
		t.Errorf("host told f is wanted %v after the cap was lifted, want within 300 ms", d)
	} else {
		t.Logf("host told f is wanted %v after the cap was lifted", d)
	}
	// The climb itself is the viewer's bandwidth estimate growing from what q carried
	// (~100 kbit/s) to what f needs: seconds unloaded, far more under -race on a busy
	// 2-core CI machine (10 s was not enough there), so the bound is a liveness one.
	waitLayer(t, sub, sfu.LayerFull, 40*time.Second)
	t.Logf("viewer on f %v after the cap was lifted; host told %v", time.Since(raised), host.told())
	if err := v.CheckContinuity(); err != nil {
		t.Errorf("%v; %s", err, v.Summary())
	}
}

// TestDynacastKeepsWhatAViewerWouldTake: a viewer whose bandwidth only carries q still
// wants h and f, which its cap allows: its allocator only climbs onto layers that arrive, so
// a host that paused them would keep it on q for good. When its bandwidth recovers it
// climbs to f.
func TestDynacastKeepsWhatAViewerWouldTake(t *testing.T) {
	s := newTestSFU(t, noWarmup)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	log := sfutest.Logger()
	host := newDynacastHost(ctx, t, s, "dynremb")
	var sub *sfu.Subscriber
	v, err := sfutest.NewViewer(ctx, func(ctx context.Context, offer string) (string, error) {
		var answer string
		var err error
		sub, answer, err = s.Subscribe("dynremb", offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerFull}, log)
		return answer, err
	}, sfutest.WithREMB())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	sending := make(chan error, 1)
	go func() { sending <- host.pub.SendFrames(ctx, 0, 30*30, 30, 30) }()
	defer func() { cancel(); <-sending }()

	report := func(bps, want int, d time.Duration) bool {
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			_ = v.SendREMB(bps)
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
	if !report(100_000, sfu.LayerLow, 8*time.Second) {
		t.Fatalf("REMB of 100 kbit/s: %+v, want layer q", sub.VideoStats())
	}
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		_ = v.SendREMB(100_000)
	}
	if got := host.told(); len(got) == 0 || got[len(got)-1] != [3]bool{true, true, true} {
		t.Fatalf("host told %v for a viewer on q whose cap is f, want every layer last", got)
	}
	if got := host.pub.Sending(); got != [3]bool{true, true, true} {
		t.Fatalf("host sends %v, want every layer", got)
	}
	if !report(5_000_000, sfu.LayerFull, 12*time.Second) {
		t.Fatalf("REMB of 5 Mbit/s: %+v, want f; host told %v", sub.VideoStats(), host.told())
	}
	if err := v.CheckContinuity(); err != nil {
		t.Errorf("%v; %s", err, v.Summary())
	}
}

// layerReader is a MediaReader that names the layers it reads.
type layerReader struct{ layers [3]bool }

func (layerReader) ReadRTP(*sfu.Receiver, []byte, *rtp.Packet, bool) {}
func (r layerReader) ReadsLayers() [3]bool                           { return r.layers }

type allReader struct{}

func (allReader) ReadRTP(*sfu.Receiver, []byte, *rtp.Packet, bool) {}

// TestReadersDemandTheirLayers: a reader of a room's video (LL-HLS) wants every layer while
// it reads, so a host never pauses what it muxes; one that names its layers (a thumbnail:
// the lowest) wants only those.
func TestReadersDemandTheirLayers(t *testing.T) {
	s := newTestSFU(t, noWarmup)
	room, err := s.Join("readers", sfu.RolePublisher)
	if err != nil {
		t.Fatal(err)
	}
	defer room.Leave(sfu.RolePublisher)
	video := room.Track(webrtc.RTPCodecTypeVideo)
	hls, thumb := allReader{}, layerReader{[3]bool{true, false, false}}
	video.AddReader(hls)
	video.AddReader(thumb)
	if got := video.LayerDemand(); got != [3]int{2, 1, 1} {
		t.Fatalf("demand with an LL-HLS reader and a thumbnail: %v, want [2 1 1]", got)
	}
	video.RemoveReader(hls)
	if got := video.LayerDemand(); got != [3]int{1, 0, 0} {
		t.Fatalf("demand with a thumbnail: %v, want [1 0 0]", got)
	}
	video.RemoveReader(thumb)
	if got := video.LayerDemand(); got != [3]int{} {
		t.Fatalf("demand with no reader: %v", got)
	}
}

// TestLayerDemandNotToldWithoutSimulcast: the demand is about simulcast layers; a host
// sending one layer is never told it, viewers or not.
func TestLayerDemandNotToldWithoutSimulcast(t *testing.T) {
	s := newTestSFU(t, noWarmup)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := sfutest.Logger()
	var host *whip.Session
	pub, err := sfutest.NewPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		sess, answer, err := whip.Publish(s, "solo", offer, log)
		host = sess
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var mu sync.Mutex
	var told [][3]bool
	stop := s.Room("solo").OnLayerDemand(host.Peer, func(w [3]bool) {
		mu.Lock()
		defer mu.Unlock()
		told = append(told, w)
	})
	defer stop()
	v, err := sfutest.NewViewer(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := s.Subscribe("solo", offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerLow}, log)
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := pub.SendFrames(ctx, 0, 45, 30, 30); err != nil {
		t.Fatal(err)
	}
	if err := v.WaitFrame(ctx, 40); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(told) > 0 {
		t.Fatalf("a host without simulcast was told %v", told)
	}
}
