package sfutest

import (
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/glintlive/glint/simulcast"
)

// jitter is the viewer's H.264 jitter buffer: a sample builder that gives a lost packet up
// to a second to be repaired, as a browser does, plus what a browser does when a keyframe
// comes while older packets are still missing: libwebrtc decodes a complete keyframe at once
// and drops what came before it. A plain sample builder holds the keyframe and every frame
// after it back until its whole max delay has run out, which counted freezes no browser
// shows: after a layer switch the packets the old layer lost are never retransmitted (the
// SFU refuses NACKs for an earlier source), and the new layer's keyframe waited behind them.
// Here a keyframe that arrives while older packets are missing is kept aside; if they are
// still missing once a repair had its chance (unrepairedAfter), the builder starts afresh
// from the keyframe.
type jitter struct {
	sb      *samplebuilder.SampleBuilder
	missing holes
	pending bool          // a keyframe is kept aside
	keySeq  uint16        // its first packet
	key     []*rtp.Packet // it and what followed, while pending
}

// unrepairedAfter is how long a missing packet may take to be repaired (a NACK round trip
// on these links) before a later keyframe is allowed to skip it.
const unrepairedAfter = 250 * time.Millisecond

// maxKeyBuffer bounds the packets kept aside from a pending keyframe.
const maxKeyBuffer = 512

func newJitter() *jitter { return &jitter{sb: newSampleBuilder()} }

func newSampleBuilder() *samplebuilder.SampleBuilder {
	return samplebuilder.New(512, &paddingTolerant{}, 90000, samplebuilder.WithMaxTimeDelay(time.Second))
}

// push takes one packet; restarted reports that the builder started afresh at a keyframe,
// dropping the frames before it.
func (j *jitter) push(pkt *rtp.Packet, now time.Time) (restarted bool) {
	seq := pkt.SequenceNumber
	if len(pkt.Payload) > 0 && simulcast.IsKeyframeStart(simulcast.CodecH264, pkt.Payload) && j.missing.anyBefore(seq) {
		j.pending, j.keySeq, j.key = true, seq, j.key[:0]
	}
	j.missing.push(seq, now)
	if j.pending {
		if len(j.key) < maxKeyBuffer {
			j.key = append(j.key, pkt)
		}
		switch {
		case !j.missing.anyBefore(j.keySeq):
			j.pending = false // repaired in time: the builder carries on
		case j.missing.stuckBefore(j.keySeq, now, unrepairedAfter):
			j.sb = newSampleBuilder()
			for _, p := range j.key {
				j.sb.Push(p)
			}
			j.missing.dropBefore(j.keySeq)
			j.pending = false
			return true
		}
	}
	j.sb.Push(pkt)
	return false
}

// gaveUp tells the jitter buffer the builder dropped packets it had waited for.
func (j *jitter) gaveUp() {
	j.missing.dropBefore(j.missing.highest + 1)
	j.pending = false
}

// holes tracks the video sequence numbers still missing and since when.
type holes struct {
	started bool
	highest uint16
	missing map[uint16]time.Time
}

// maxHoleRun bounds the sequence numbers one jump may add (a stream restart jumps far).
const maxHoleRun = 512

func (h *holes) push(seq uint16, now time.Time) {
	if h.missing == nil {
		h.missing = map[uint16]time.Time{}
	}
	if !h.started {
		h.started, h.highest = true, seq
		return
	}
	if d := int16(seq - h.highest); d > 0 {
		if d-1 <= maxHoleRun {
			for s := h.highest + 1; s != seq; s++ {
				h.missing[s] = now
			}
		}
		h.highest = seq
		return
	}
	delete(h.missing, seq)
}

func (h *holes) anyBefore(seq uint16) bool {
	for s := range h.missing {
		if int16(s-seq) < 0 {
			return true
		}
	}
	return false
}

func (h *holes) stuckBefore(seq uint16, now time.Time, d time.Duration) bool {
	for s, since := range h.missing {
		if int16(s-seq) < 0 && now.Sub(since) > d {
			return true
		}
	}
	return false
}

func (h *holes) dropBefore(seq uint16) {
	for s := range h.missing {
		if int16(s-seq) < 0 {
			delete(h.missing, s)
		}
	}
}
