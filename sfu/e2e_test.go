package sfu_test

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

func newTestSFU(t *testing.T) *sfu.SFU {
	t.Helper()
	cfg := sfu.DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.KeyframeInterval = 100 * time.Millisecond
	s, err := sfu.New(cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestPublisherRestartKeepsViewersContinuous is the core promise: twenty viewers, joined
// before the host goes live, receive every frame intact with continuous sequence numbers and
// growing timestamps, across the host dropping and republishing in the middle.
func TestPublisherRestartKeepsViewersContinuous(t *testing.T) {
	const viewers, perSession = 20, 45
	s := newTestSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := sfutest.Logger()

	subscribe := func(ctx context.Context, offer string) (string, error) {
		sub, answer, err := s.Subscribe("stage", offer, log)
		if err == nil {
			t.Cleanup(sub.Close)
		}
		return answer, err
	}
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

	// Each session sends one frame more than it waits for: a viewer only knows a frame is
	// complete when the next one starts.
	var want []uint32
	for session := range 2 {
		pub, err := sfutest.NewPublisher(ctx, publish)
		if err != nil {
			t.Fatal(err)
		}
		first := uint32(session * 100)
		if err := pub.SendFrames(ctx, first, perSession+1, 30, 30); err != nil {
			t.Fatal(err)
		}
		for n := range uint32(perSession + 1) {
			want = append(want, first+n)
		}
		for i, v := range vs {
			if err := v.WaitFrame(ctx, first+perSession-1); err != nil {
				t.Fatalf("viewer %d, session %d: %v", i, session, err)
			}
		}
		// The host drops: its session ends as a WHIP DELETE would end it.
		_ = pub.Close()
		sessions[session].Close()
	}
	want = want[:len(want)-1] // the very last frame has no successor
	for i, v := range vs {
		if err := v.Check(want); err != nil {
			t.Errorf("viewer %d: %v; %s", i, err, v.Summary())
		}
		if v.AudioPackets() == 0 {
			t.Errorf("viewer %d received no audio", i)
		}
	}
	t.Log(vs[0].Summary())
}
