package llhls

import (
	"errors"

	"github.com/pion/rtp"
)

// maxAccessUnit bounds one frame's bytes (a 4K keyframe at a high bitrate is ~1 MB).
const maxAccessUnit = 4 << 20

var (
	errFrameTooLarge = errors.New("llhls: access unit larger than 4 MB")
	errBadNALU       = errors.New("llhls: malformed H.264 RTP payload")
)

// auAssembler turns one layer's H.264 RTP packets (RFC 6184: single NAL units, STAP-A,
// FU-A) into access units: the NAL units sharing a timestamp, complete at the marker bit.
// A sequence gap inside a frame drops the frame and everything until the next keyframe
// (a decoder cannot use a P-frame whose reference is missing). Buffers are reused.
type auAssembler struct {
	buf      []byte   // NAL unit bytes of the frame being assembled
	spans    [][2]int // each NAL unit's [start, end) in buf
	ts       uint32
	lastSeq  uint16
	started  bool // lastSeq is valid
	inFrame  bool // buf holds the start of a frame with timestamp ts
	broken   bool // a packet of this frame was lost
	inFU     bool // a fragmented NAL unit is open (its span is the last one)
	needIDR  bool // wait for a keyframe before emitting anything
	nalus    [][]byte
	dropped  int // frames dropped, for the metric
	keyframe bool
}

func newAUAssembler() *auAssembler { return &auAssembler{needIDR: true} }

// push adds a packet; it returns a complete access unit (valid until the next push) or nil.
func (a *auAssembler) push(p *rtp.Packet, keyframe bool) (au [][]byte, ts uint32, err error) {
	if a.started && p.SequenceNumber != a.lastSeq+1 {
		if int16(p.SequenceNumber-a.lastSeq) <= 0 {
			return nil, 0, nil // duplicate or late (a retransmission the viewers needed)
		}
		a.broken = true // lost packets: this frame, if it continues, is damaged
		a.needIDR = true
	}
	a.started, a.lastSeq = true, p.SequenceNumber
	if len(p.Payload) == 0 {
		// Padding only: a sender's bandwidth probe (Chromium sends a burst every 5 s) takes a
		// sequence number but carries no media, and its timestamp need not be a frame's. Taken
		// for a frame, it made the next packet look like a frame whose marker was lost, and
		// every frame until the next keyframe was dropped: a hole of up to a second in the
		// LL-HLS video every 5 s, which hls.js stalled on.
		return nil, 0, nil
	}
	if a.inFrame && p.Timestamp != a.ts {
		// The previous frame's marker was lost: it cannot be trusted either.
		a.reset()
		a.needIDR = true
	}
	if !a.inFrame {
		a.inFrame, a.ts, a.broken, a.keyframe = true, p.Timestamp, false, false
		if keyframe {
			a.keyframe = true
		}
	} else if keyframe {
		a.keyframe = true
	}
	if !a.broken {
		if err := a.add(p.Payload); err != nil {
			a.broken = true
			a.needIDR = true
		}
	}
	if !p.Marker {
		return nil, 0, err
	}
	defer a.reset()
	if a.broken || a.inFU {
		a.dropped++
		return nil, 0, err
	}
	if a.needIDR {
		if !a.hasIDR() {
			a.dropped++
			return nil, 0, nil
		}
		a.needIDR = false
	}
	a.nalus = a.nalus[:0]
	for _, s := range a.spans {
		if s[1] > s[0] {
			a.nalus = append(a.nalus, a.buf[s[0]:s[1]])
		}
	}
	return a.nalus, a.ts, nil
}

func (a *auAssembler) reset() {
	a.buf, a.spans, a.inFrame, a.inFU, a.broken = a.buf[:0], a.spans[:0], false, false, false
}

func (a *auAssembler) hasIDR() bool {
	for _, s := range a.spans {
		if s[1] > s[0] && a.buf[s[0]]&0x1f == 5 {
			return true
		}
	}
	return false
}

// add appends a packet's NAL units to the frame.
func (a *auAssembler) add(payload []byte) error {
	if len(payload) < 1 {
		return nil // padding
	}
	switch typ := payload[0] & 0x1f; {
	case typ >= 1 && typ <= 23:
		return a.appendNALU(payload)
	case typ == 24: // STAP-A
		for b := payload[1:]; len(b) > 0; {
			if len(b) < 2 {
				return errBadNALU
			}
			n := int(b[0])<<8 | int(b[1])
			if n == 0 || len(b) < 2+n {
				return errBadNALU
			}
			if err := a.appendNALU(b[2 : 2+n]); err != nil {
				return err
			}
			b = b[2+n:]
		}
		return nil
	case typ == 28: // FU-A
		if len(payload) < 2 {
			return errBadNALU
		}
		start, end := payload[1]&0x80 != 0, payload[1]&0x40 != 0
		if start {
			if a.inFU {
				return errBadNALU
			}
			if err := a.appendNALU([]byte{payload[0]&0xe0 | payload[1]&0x1f}); err != nil {
				return err
			}
			a.inFU = true
		} else if !a.inFU {
			return errBadNALU
		}
		if len(a.buf)+len(payload)-2 > maxAccessUnit {
			return errFrameTooLarge
		}
		a.buf = append(a.buf, payload[2:]...)
		a.spans[len(a.spans)-1][1] = len(a.buf)
		if end {
			a.inFU = false
		}
		return nil
	}
	return errBadNALU // STAP-B, MTAP, FU-B: packetization-mode 1 never sends them
}

func (a *auAssembler) appendNALU(n []byte) error {
	if a.inFU {
		return errBadNALU
	}
	if len(a.buf)+len(n) > maxAccessUnit {
		return errFrameTooLarge
	}
	start := len(a.buf)
	a.buf = append(a.buf, n...)
	a.spans = append(a.spans, [2]int{start, len(a.buf)})
	return nil
}
