package sfu

import (
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A MediaReader is an outbound adapter that is not a WebRTC viewer (LL-HLS): it reads every
// layer of a stage Track as the Receivers fan it out, the third hop beside the DownTracks.
// ReadRTP runs on the Receiver's goroutine for each packet, after every DownTrack has its
// copy: it must copy what it keeps and return at once (a bounded queue that drops and counts
// when full), so a reader never slows the publisher or the viewers. pkt's payload points
// into raw; neither may be kept after the call.
type MediaReader interface {
	ReadRTP(src *Receiver, raw []byte, pkt *rtp.Packet, keyframe bool)
}

// AddReader subscribes rd to the Track. A video reader's layers (every layer, unless it is
// a LayerReader) count as demanded while it reads, so dynacast keeps them flowing, and each
// layer asks its publisher for a keyframe so the reader can start.
func (t *Track) AddReader(rd MediaReader) {
	t.mu.Lock()
	old := *t.readers.Load()
	next := make([]MediaReader, len(old), len(old)+1)
	copy(next, old)
	t.readers.Store(ptr(append(next, rd)))
	t.mu.Unlock()
	if t.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	t.demandReader(rd, true)
	for l := range numLayers {
		if r := t.layers[l].Load(); r != nil {
			r.RequestKeyframe()
		}
	}
}

// RemoveReader unsubscribes rd; it gets no call after RemoveReader returns but one that
// has already begun may still be running.
func (t *Track) RemoveReader(rd MediaReader) {
	t.mu.Lock()
	old := *t.readers.Load()
	next := make([]MediaReader, 0, len(old))
	found := false
	for _, r := range old {
		if r == rd {
			found = true
			continue
		}
		next = append(next, r)
	}
	t.readers.Store(&next)
	t.mu.Unlock()
	if found {
		t.demandReader(rd, false)
	}
}

// Layer returns the Track's current source for simulcast layer l (nil when none).
func (t *Track) Layer(l int) *Receiver {
	if l < 0 || l >= numLayers {
		return nil
	}
	return t.layers[l].Load()
}

// readBatch hands a forwarded batch to the Track's readers.
func (t *Track) readBatch(r *Receiver, batch []batchPacket) {
	readers := *t.readers.Load()
	if len(readers) == 0 {
		return
	}
	for i := range batch {
		b := &batch[i]
		for _, rd := range readers {
			rd.ReadRTP(r, b.buf[:b.n], &b.pkt, b.keyframe)
		}
	}
}

// CaptureTime maps one of the Receiver's RTP timestamps to the publisher's capture wall
// clock (the room's media clock); false before the publisher's first sender report.
func (r *Receiver) CaptureTime(ts uint32) (time.Time, bool) { return r.clock.captureTime(ts) }

// CanRequestKeyframe reports whether the publisher takes keyframe requests (a WebRTC host
// does; a source without an RTCP path does not).
func (r *Receiver) CanRequestKeyframe() bool { return r.src.WriteRTCP != nil }

// ClockRate is the RTP clock rate of the track.
func (r *Receiver) ClockRate() uint32 { return r.clockRate }

func ptr[T any](v T) *T { return &v }
