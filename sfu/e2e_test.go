package sfu_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// subscriber signals a viewer of room (uncapped) straight into s; the session closes with
// the test.
func subscriber(t *testing.T, s *sfu.SFU, room string) sfutest.Signal {
	return func(ctx context.Context, offer string) (string, error) {
		sub, answer, err := s.Subscribe(room, offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerFull}, sfutest.Logger())
		if err == nil {
			t.Cleanup(sub.Close)
		}
		return answer, err
	}
}

// newTestSFU starts an SFU on loopback; tune, when given, changes its settings first.
func newTestSFU(t *testing.T, tune ...func(*sfu.Config)) *sfu.SFU {
	t.Helper()
	cfg := sfu.DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.KeyframeInterval = 100 * time.Millisecond
	for _, f := range tune {
		f(&cfg)
	}
	s, err := sfu.New(cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestPublisherLossRepairedInLargeFrames: a host on a lossy uplink sending frames of about
// fifty packets (as real keyframes are, and larger): the SFU asks for each lost packet,
// and by the time it comes again more than a hundred packets have followed it. The SFU
// takes it all the same (its SRTP replay window is a browser's 1,024 packets, not pion's
// 64, which dropped these and left the frames broken), and the viewer gets every frame.
func TestPublisherLossRepairedInLargeFrames(t *testing.T) {
	const frames = 45
	s := newTestSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := sfutest.Logger()
	v, err := sfutest.NewViewer(ctx, subscriber(t, s, "lossy"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	pub, err := sfutest.NewPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(s, "lossy", offer, log)
		return answer, err
	}, sfutest.WithFrameSize(60_000), sfutest.WithSendLoss(97))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.SendFrames(ctx, 0, frames, 1000, 30); err != nil {
		t.Fatal(err)
	}
	wait, cancelWait := context.WithTimeout(ctx, 5*time.Second) // all was sent: the repairs take ~0.1 s
	defer cancelWait()
	if err := v.WaitFrame(wait, frames-1); err != nil {
		t.Fatalf("%v; %s", err, v.Summary())
	}
	want := make([]uint32, frames)
	for i := range want {
		want[i] = uint32(i)
	}
	if err := v.Check(want); err != nil {
		t.Fatalf("%v; %s", err, v.Summary())
	}
}

// TestPublisherRestartKeepsViewersContinuous is the core promise: twenty viewers, joined
// before the host goes live, receive every frame intact with continuous sequence numbers and
// growing timestamps, across the host reconnecting in the middle (a new session that
// replaces the old one before it timed out). Half the viewers lose one packet in fifteen:
// they are whole only because the SFU answers their NACKs from its cache. It runs twice:
// with each track's fan-out on its own goroutine, and split over four workers from two
// viewers on (the parallel fan-out must keep every viewer's packets whole and in order).
func TestPublisherRestartKeepsViewersContinuous(t *testing.T) {
	t.Run("one goroutine", func(t *testing.T) {
		testRestartContinuity(t, func(c *sfu.Config) { c.FanoutWorkers = 1 })
	})
	t.Run("four workers", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(sfu.Collectors()...)
		before := counter(t, reg, "glint_sfu_fanout_shares_total")
		testRestartContinuity(t, func(c *sfu.Config) { c.FanoutWorkers, c.FanoutParallelMin = 4, 2 })
		if counter(t, reg, "glint_sfu_fanout_shares_total") == before {
			t.Fatal("no share of any frame went to a fan-out worker: the parallel path was not taken")
		}
	})
}

func testRestartContinuity(t *testing.T, tune func(*sfu.Config)) {
	const viewers, perSession = 20, 45
	s := newTestSFU(t, tune)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := sfutest.Logger()

	subscribe := subscriber(t, s, "stage")
	var sessions []*whip.Session
	publish := func(ctx context.Context, offer string) (string, error) {
		sess, answer, err := whip.Publish(s, "stage", offer, log)
		if err == nil {
			sessions = append(sessions, sess)
		}
		return answer, err
	}

	vs := make([]*sfutest.Viewer, viewers)
	var g errgroup.Group
	for i := range vs {
		g.Go(func() (err error) {
			var opts []sfutest.ViewerOption
			if i%2 == 1 {
				opts = append(opts, sfutest.WithLoss(15))
			}
			vs[i], err = sfutest.NewViewer(ctx, subscribe, opts...)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, v := range vs {
			_ = v.Close()
		}
	}()

	var want []uint32
	for session := range 2 {
		pub, err := sfutest.NewPublisher(ctx, publish)
		if err != nil {
			t.Fatal(err)
		}
		first := uint32(session * 100)
		if err := pub.SendFrames(ctx, first, perSession, 30, 30); err != nil {
			t.Fatal(err)
		}
		for n := range uint32(perSession) {
			want = append(want, first+n)
		}
		for i, v := range vs {
			if err := v.WaitFrame(ctx, first+perSession-1); err != nil {
				t.Fatalf("viewer %d, session %d: %v", i, session, err)
			}
		}
		// The host reconnects: the next session replaces this one while it is still up.
		defer pub.Close()
	}
	// A replaced session closes on its own.
	select {
	case <-sessions[0].Done():
	case <-ctx.Done():
		t.Fatal("the replaced publisher session was not closed")
	}
	for i, v := range vs {
		if err := v.Check(want); err != nil {
			t.Errorf("viewer %d: %v; %s", i, err, v.Summary())
		}
		if v.AudioPackets() == 0 {
			t.Errorf("viewer %d received no audio", i)
		}
		if v.SenderReports() == 0 {
			t.Errorf("viewer %d received no sender reports", i)
		}
	}
	t.Log(vs[0].Summary())
}

// TestKeyframeRequestsAreCoalesced: viewers joining a live stream together start within
// moments, and the publisher is asked for far fewer keyframes than there are viewers.
func TestKeyframeRequestsAreCoalesced(t *testing.T) {
	const joiners = 10
	cfg := sfu.DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.KeyframeInterval = 2 * time.Second
	s, err := sfu.New(cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := sfutest.Logger()
	pub, err := sfutest.NewPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(s, "live", offer, log)
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	subscribe := func(ctx context.Context, offer string) (string, error) {
		_, answer, err := s.Subscribe("live", offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerFull}, log)
		return answer, err
	}
	// A long GOP: without keyframe requests the joiners would wait 10 s.
	sending := make(chan error, 1)
	go func() { sending <- pub.SendFrames(ctx, 0, 150, 300, 30) }()

	time.Sleep(500 * time.Millisecond) // the stream is live before anyone joins
	before := pub.PLIs()
	vs := make([]*sfutest.Viewer, joiners)
	var g errgroup.Group
	for i := range vs {
		g.Go(func() (err error) {
			vs[i], err = sfutest.NewViewer(ctx, subscribe)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, v := range vs {
			_ = v.Close()
		}
	}()
	for i, v := range vs {
		wait, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := v.WaitFrame(wait, 1)
		cancel()
		if err != nil {
			t.Fatalf("joiner %d got no picture within 3s: %v", i, err)
		}
	}
	if plis := pub.PLIs() - before; plis < 1 || plis > 3 {
		t.Errorf("%d viewers joining caused %d keyframe requests, want 1 to 3", joiners, plis)
	}
	cancel()
	<-sending
}

// TestExistingRoomOnly: a viewer that may not create rooms is refused atomically.
func TestExistingRoomOnly(t *testing.T) {
	s := newTestSFU(t)
	_, _, err := s.Subscribe("ghost", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=recvonly\r\na=rtpmap:96 VP8/90000\r\n",
		sfu.SubscribeOptions{MaxLayer: sfu.LayerFull, ExistingRoomOnly: true}, sfutest.Logger())
	if !errors.Is(err, sfu.ErrNoRoom) {
		t.Fatalf("Subscribe to a missing room: %v, want ErrNoRoom", err)
	}
	if s.Room("ghost") != nil {
		t.Fatal("the room was created")
	}
}

// TestLiveEdgeFollowsThePublisherClock: from the host's sender reports the room knows the
// capture time of the newest frame, within a frame or two of the host's own clock.
func TestLiveEdgeFollowsThePublisherClock(t *testing.T) {
	s := newTestSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pub, err := sfutest.NewPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(s, "clock", offer, sfutest.Logger())
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	// pion's reporter sends a sender report about every second.
	if err := pub.SendFrames(ctx, 0, 75, 30, 30); err != nil {
		t.Fatal(err)
	}
	edge, ok := s.Room("clock").LiveEdge()
	if !ok {
		t.Fatal("no live edge after 2.5 s of media with sender reports")
	}
	if lag := time.Since(edge); lag < -50*time.Millisecond || lag > 200*time.Millisecond {
		t.Errorf("live edge %v behind the publisher's clock, want within a few frames", lag)
	}
}

// TestViewerClockMapping: a viewer's mapping from its own (rewritten) RTP timestamps to the
// capture clock puts the frames it received at the times the host sent them.
func TestViewerClockMapping(t *testing.T) {
	s := newTestSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	log := sfutest.Logger()
	pub, err := sfutest.NewPublisher(ctx, func(ctx context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(s, "vclock", offer, log)
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
		sub, answer, err = s.Subscribe("vclock", offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerFull}, log)
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := pub.SendFrames(ctx, 0, 75, 30, 30); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	m, ok := sub.VideoClock()
	if !ok {
		t.Fatal("no clock mapping after 2.5 s of media with sender reports")
	}
	ts := v.LastVideoTimestamp() // the viewer's own timestamp of the newest frame
	capture := m.Capture.Add(time.Duration(int32(ts-m.RTPTime)) * time.Second / time.Duration(m.ClockRate))
	if d := sent.Sub(capture); d < -50*time.Millisecond || d > 200*time.Millisecond {
		t.Errorf("the viewer's newest frame maps to %v before the host sent it, want within a few frames", d)
	}
}
