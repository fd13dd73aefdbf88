package sfutest

import (
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/glintlive/glint/simulcast"
)

// Assembler is a test viewer's H.264 receive buffer. It does what a browser's does
// (libwebrtc's packet buffer and frame reference finder), where pion's sample builder
// differs in ways that counted freezes no browser shows:
//   - a padding-only packet (the SFU's bandwidth probe) fills its sequence number and is
//     otherwise ignored; the sample builder folds a one-packet frame that follows a padding
//     run into the run and drops both, so every probe cost frames;
//   - a complete keyframe is decoded once the packets missing before it have had a repair's
//     time (unrepairedAfter), dropping what came before: after a layer switch the old
//     layer's losses are never retransmitted (the SFU refuses NACKs for an earlier source),
//     and the sample builder held the new layer's keyframe behind them for its whole delay;
//   - a missing packet not repaired within maxRepair is given up on: the frames up to the
//     next certain frame start after it are dropped, and the frame after that comes out
//     marked as following a loss (a decoder's picture is broken until a keyframe);
//   - a frame ends at its marker bit: one whose packets stop without it (cut by a layer
//     switch) is dropped, not given out as whole.
//
// Frames come out in sequence order, each once.
type Assembler struct {
	started   bool
	next      uint16 // the first sequence number not yet consumed
	highest   uint16
	pkts      map[uint16]*rtp.Packet
	missing   map[uint16]time.Time // sequence numbers in [next, highest] not received, since when
	lost      bool                 // frames were dropped since the last one out
	taken     bool                 // a frame has come out
	startedAt time.Time            // the first packet's arrival
}

// AssembledFrame is one whole access unit.
type AssembledFrame struct {
	Data      []byte // Annex-B
	Timestamp uint32
	AfterLoss bool // frames were dropped just before this one
}

const (
	// unrepairedAfter is how long a missing packet may take to be repaired (a NACK round
	// trip on the test links) before a later complete keyframe skips it.
	unrepairedAfter = 250 * time.Millisecond
	// maxRepair is how long a missing packet is waited for at all, as a browser's jitter
	// buffer gives up and asks for a keyframe.
	maxRepair = time.Second
	// maxJump bounds the sequence numbers one jump may open as missing: a farther jump is a
	// new stream, and what was pending is dropped.
	maxJump = 1024
)

// NewAssembler returns an empty receive buffer.
func NewAssembler() *Assembler {
	return &Assembler{pkts: map[uint16]*rtp.Packet{}, missing: map[uint16]time.Time{}}
}

// Push takes one packet received at now.
func (a *Assembler) Push(pkt *rtp.Packet, now time.Time) {
	seq := pkt.SequenceNumber
	if !a.started {
		a.started, a.next, a.highest, a.startedAt = true, seq, seq, now
	}
	d := int16(seq - a.highest)
	switch {
	case d > maxJump:
		a.reset(seq) // a new stream
	case d < -maxJump:
		return // far behind anything pending: a stale retransmission
	case d > 0:
		for s := a.highest + 1; s != seq; s++ {
			a.missing[s] = now
		}
		a.highest = seq
	case int16(seq-a.next) < 0 && !a.taken:
		// Before the first frame is out, an earlier packet (reordered, or resent) moves the
		// start back: it may be the first frame's parameter sets.
		for s := seq + 1; s != a.next; s++ {
			a.missing[s] = now
		}
		a.next = seq
	case int16(seq-a.next) < 0:
		return // already consumed or given up: a late retransmission or a duplicate
	}
	delete(a.missing, seq)
	a.pkts[seq] = pkt
}

// reset drops everything pending: the stream jumped.
func (a *Assembler) reset(seq uint16) {
	if len(a.pkts) > 0 || len(a.missing) > 0 {
		a.lost = true
	}
	clear(a.pkts)
	clear(a.missing)
	a.next, a.highest = seq, seq
}

// Pop returns the next frame that is whole and may be decoded at now, nil when none is.
func (a *Assembler) Pop(now time.Time) *AssembledFrame {
	for a.started && int16(a.highest-a.next) >= 0 {
		p := a.pkts[a.next]
		switch {
		case p != nil && isPadding(p):
			a.consume(a.next) // a probe: it only fills its number
			continue
		case p != nil && !(&codecs.H264Packet{}).IsPartitionHead(p.Payload):
			a.consume(a.next) // the middle of a frame whose start was given up on
			a.lost = true
			continue
		case p != nil:
			switch end, st := a.frameEnd(a.next); st {
			case frameWhole:
				if !a.taken && !hasSPS(p.Payload) && now.Sub(a.startedAt) < unrepairedAfter {
					return nil // the stream's first packets may still be on their way, reordered
				}
				return a.take(a.next, end)
			case frameCut:
				a.dropBefore(end + 1)
				continue
			}
		}
		// Something is missing at or after next: wait for its repair, unless a later
		// keyframe may skip it or it has been waited for too long.
		if key, ok := a.completeKeyframe(); ok && a.stuckBefore(key, now, unrepairedAfter) {
			a.dropBefore(key)
			continue
		}
		if hole, ok := a.expired(now); ok {
			a.dropBefore(a.certainStartAfter(hole))
			continue
		}
		return nil
	}
	return nil
}

// frameState is what frameEnd found.
type frameState int

const (
	frameIncomplete frameState = iota // a packet is missing or the end has not arrived
	frameWhole
	frameCut // the next frame began before this one's marker: its tail was never sent
)

// frameEnd finds the last packet of the frame starting at first: the one with the marker
// bit. A frame whose packets stop without one (the SFU switched layers mid-frame, so the
// old layer's tail never came) is cut at its last packet, as libwebrtc, which needs the
// marker, never completes it.
func (a *Assembler) frameEnd(first uint16) (uint16, frameState) {
	ts := a.pkts[first].Timestamp
	for s := first; int16(a.highest-s) >= 0; s++ {
		p := a.pkts[s]
		switch {
		case p == nil:
			return 0, frameIncomplete
		case p.Timestamp != ts || isPadding(p):
			return s - 1, frameCut
		case p.Marker:
			return s, frameWhole
		}
	}
	return 0, frameIncomplete
}

// take depacketizes the frame [first, last] and consumes it.
func (a *Assembler) take(first, last uint16) *AssembledFrame {
	f := &AssembledFrame{Timestamp: a.pkts[first].Timestamp, AfterLoss: a.lost}
	var dp codecs.H264Packet
	for s := first; ; s++ {
		if b, err := dp.Unmarshal(a.pkts[s].Payload); err == nil {
			f.Data = append(f.Data, b...)
		}
		a.consume(s)
		if s == last {
			break
		}
	}
	a.lost, a.taken = false, true
	return f
}

// completeKeyframe finds the first whole keyframe after a missing packet.
func (a *Assembler) completeKeyframe() (uint16, bool) {
	for s := a.next + 1; int16(a.highest-s) >= 0; s++ {
		p := a.pkts[s]
		if p == nil || !simulcast.IsKeyframeStart(simulcast.CodecH264, p.Payload) || !a.startsFrame(s) {
			continue
		}
		if _, st := a.frameEnd(s); st == frameWhole {
			return s, true
		}
	}
	return 0, false
}

// startsFrame reports whether the packet at s certainly begins a frame: the packet before
// it arrived and ended a frame (or was padding), or it carries a sequence parameter set,
// which only a keyframe's first packet does (after a layer switch the packet before the
// new layer's keyframe is the old layer's, often never resent).
func (a *Assembler) startsFrame(s uint16) bool {
	if hasSPS(a.pkts[s].Payload) {
		return true
	}
	prev := a.pkts[s-1]
	return prev != nil && (prev.Marker || isPadding(prev) || prev.Timestamp != a.pkts[s].Timestamp)
}

// hasSPS reports whether an H.264 RTP payload is an SPS, or a STAP-A that begins with one.
func hasSPS(p []byte) bool {
	const sps, stapA = 7, 24
	switch {
	case len(p) > 0 && p[0]&0x1f == sps:
		return true
	case len(p) > 3 && p[0]&0x1f == stapA: // STAP-A: header, 2-byte size, first NAL
		return p[3]&0x1f == sps
	}
	return false
}

// certainStartAfter is the first packet after seq that certainly begins a frame, or the
// number after the highest when none has arrived yet.
func (a *Assembler) certainStartAfter(seq uint16) uint16 {
	for s := seq + 1; int16(a.highest-s) >= 0; s++ {
		if p := a.pkts[s]; p != nil && !isPadding(p) && a.startsFrame(s) {
			return s
		}
	}
	return a.highest + 1
}

// stuckBefore reports whether a packet before seq has been missing for longer than d.
func (a *Assembler) stuckBefore(seq uint16, now time.Time, d time.Duration) bool {
	for s, since := range a.missing {
		if int16(s-seq) < 0 && now.Sub(since) > d {
			return true
		}
	}
	return false
}

// expired returns the first missing packet waited for longer than maxRepair.
func (a *Assembler) expired(now time.Time) (uint16, bool) {
	first, found := uint16(0), false
	for s, since := range a.missing {
		if now.Sub(since) > maxRepair && (!found || int16(s-first) < 0) {
			first, found = s, true
		}
	}
	return first, found
}

// dropBefore gives up on everything before seq.
func (a *Assembler) dropBefore(seq uint16) {
	for s := a.next; s != seq; s++ {
		if p := a.pkts[s]; p == nil || !isPadding(p) {
			a.lost = true
		}
		a.consume(s)
	}
}

func (a *Assembler) consume(s uint16) {
	delete(a.pkts, s)
	delete(a.missing, s)
	a.next = s + 1
}

func isPadding(p *rtp.Packet) bool { return len(p.Payload) == 0 }
