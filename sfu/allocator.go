package sfu

import (
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/simulcast"
)

const (
	// allocateEvery is how often a viewer's estimate is spent again.
	allocateEvery = 200 * time.Millisecond
	// audioReserve is kept out of the estimate for audio, which always goes first.
	audioReserve = 64_000
)

// allocator spends one viewer's bandwidth estimate: audio first, then the video layer the
// Selector picks within the viewer's cap, plus padding probes when it looks for room to
// climb. It runs on the viewer session's own goroutine, never on the fan-out path.
type allocator struct {
	bwe   *viewerBWE
	video *DownTrack
	sel   simulcast.Selector
}

func (a *allocator) run(done <-chan struct{}) {
	tick := time.NewTicker(allocateEvery)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			a.allocate(now)
		}
	}
}

func (a *allocator) allocate(now time.Time) {
	t := a.video.track
	var rates simulcast.LayerRates
	layers := 0
	for l := range t.layers {
		if r := t.layers[l].Load(); r != nil {
			rates[l] = r.Bitrate(now.UnixNano())
			layers++
		}
	}
	// Estimate only while there is a choice to make: it is the costliest per-packet work.
	a.bwe.active.Store(layers > 1)
	if layers < 2 {
		a.video.allocate(LayerFull, 0, 0)
		return
	}
	budget := a.bwe.est.GetTargetBitrate() - audioReserve
	layer, probe := a.sel.Choose(budget, rates, a.video.capLayer, now)
	a.video.allocate(layer, probe, budget)
}

// startAllocator runs the allocator for a viewer whose PeerConnection has estimation.
func (s *Subscriber) startAllocator(bwe *viewerBWE) {
	var video *DownTrack
	for _, dt := range s.downTracks {
		if dt.Kind() == webrtc.RTPCodecTypeVideo {
			video = dt
		}
	}
	if bwe == nil || bwe.est == nil || video == nil || !negotiatedTWCC(s.videoSender) {
		return // no estimate to spend: the viewer stays on its cap
	}
	a := &allocator{bwe: bwe, video: video}
	s.Go(func() { a.run(s.Stopping()) })
}

// negotiatedTWCC reports whether the viewer agreed to transport-wide congestion feedback.
func negotiatedTWCC(sender *webrtc.RTPSender) bool {
	if sender == nil {
		return false
	}
	for _, e := range sender.GetParameters().HeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			return true
		}
	}
	return false
}
