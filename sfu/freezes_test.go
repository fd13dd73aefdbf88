package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
)

// TestFreezesPerMinute: a viewer's keyframe requests (PLI and FIR) for a picture it had
// are its freezes, repeats within viewerKeyframeGap one freeze; they are observed once,
// when its session ends, per minute it watched; a session shorter than minFreezeWatch is
// not observed.
func TestFreezesPerMinute(t *testing.T) {
	observed := func() (uint64, float64) {
		var m dto.Metric
		if err := viewerFreezesPerMinute.Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
	}
	cfg := DefaultConfig()
	watch := func(watched time.Duration, plis int) {
		tr := newTrack(webrtc.RTPCodecTypeVideo, nil, nil, 1)
		dt := newDownTrack(tr, "video", "test", LayerFull, zap.NewNop())
		dt.ssrc = 1000
		tr.addDownTrack(dt)
		dt.setReady(func([]rtcp.Packet) error { return nil })
		dt.HandleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 1000}}) // no picture yet: no freeze
		dt.mu.Lock()
		dt.source = newReceiver(tr, PublishedTrack{Codec: forwardedCodecs()[1], Kind: webrtc.RTPCodecTypeVideo, SSRC: 7,
			WriteRTCP: func([]rtcp.Packet) error { return nil }}, &cfg, zap.NewNop())
		dt.mu.Unlock()
		for i := range plis {
			if i%2 == 0 {
				dt.HandleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 1000}})
			} else {
				dt.HandleRTCP([]rtcp.Packet{&rtcp.FullIntraRequest{FIR: []rtcp.FIREntry{{SSRC: 1000}}}})
			}
			dt.HandleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 1000}}) // the same freeze, asked again
			dt.mu.Lock()
			dt.lastViewerPLI = time.Time{} // the next is a second later
			dt.mu.Unlock()
		}
		dt.mu.Lock()
		dt.watching = time.Now().Add(-watched)
		dt.mu.Unlock()
		dt.close()
		dt.close() // once
	}
	count, sum := observed()
	watch(2*time.Minute, 6)
	if c, s := observed(); c != count+1 || s-sum < 2.99 || s-sum > 3.01 {
		t.Fatalf("after 6 freezes in 2 minutes: %d samples (+%d), sum +%.3f; want one sample of 3 a minute", c, c-count, s-sum)
	}
	count, sum = observed()
	watch(5*time.Second, 3)
	if c, s := observed(); c != count || s != sum {
		t.Fatalf("a 5 s session was observed: %d samples, sum %.3f", c-count, s-sum)
	}
}
