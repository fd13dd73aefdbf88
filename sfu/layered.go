package sfu

import (
	"errors"
	"strings"

	"github.com/pion/sdp/v3"
	"go.uber.org/zap"
)

// A relay node (ingest/relay) watches a room as a layered viewer: its offer has a video
// section per simulcast layer, and each gets a DownTrack pinned to one layer, so the node
// can serve its own viewers every layer, switching them as the origin does its own. No
// allocator spends an estimate across them: what the node forwards is what its viewers
// need, which it says with SetLayersWanted, so the host's dynacast sees the relay's
// viewers as its own.

// ErrNotLayered is SetLayersWanted on a viewer that is not a layered one.
var ErrNotLayered = errors.New("sfu: the session does not receive each layer apart (only a relay node's does)")

// newPinnedDownTrack makes a DownTrack that forwards layer only.
func newPinnedDownTrack(t *Track, id, streamID string, layer int, log *zap.Logger) *DownTrack {
	d := newDownTrack(t, id, streamID, layer, log)
	d.pinned = layer
	return d
}

// setNeeded starts or stops a pinned DownTrack. Stopped, it forwards nothing and wants
// nothing of its Track (the host may pause the layer); started again, it joins at the
// layer's next keyframe, its numbering continuous, and asks for one.
func (d *DownTrack) setNeeded(on bool) {
	d.mu.Lock()
	if d.closed || d.unneeded == !on {
		d.mu.Unlock()
		return
	}
	d.unneeded = !on
	if d.unneeded && d.source != nil {
		viewersOnLayer[d.source.layer].Dec()
		d.source = nil
	}
	d.demandLocked(d.wantsLocked())
	ready := d.ready
	d.mu.Unlock()
	if r := d.firstSource(); on && ready && r != nil {
		r.RequestKeyframe()
	}
}

// SetLayersWanted says which simulcast layers a layered viewer (SubscribeOptions.Layered)
// forwards; the others send nothing until wanted again.
func (s *Subscriber) SetLayersWanted(wanted [numLayers]bool) error {
	if !s.layered {
		return ErrNotLayered
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, dt := range s.downTracks {
		if dt.pinned >= 0 {
			dt.setNeeded(wanted[dt.pinned])
		}
	}
	return nil
}

// Layered reports whether the viewer receives each simulcast layer apart.
func (s *Subscriber) Layered() bool { return s.layered }

// videoSections counts an offer's video media sections (0 for one that does not parse:
// CheckOffer has refused it already).
func videoSections(offer string) int {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return 0
	}
	n := 0
	for _, m := range d.MediaDescriptions {
		if strings.EqualFold(m.MediaName.Media, "video") {
			n++
		}
	}
	return n
}
