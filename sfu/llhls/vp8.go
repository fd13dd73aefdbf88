package llhls

import (
	"encoding/binary"
	"errors"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// maxVP8Frame bounds one assembled VP8 frame (a 1080p keyframe is ~100-300 KB).
const maxVP8Frame = 2 << 20

var errVP8FrameTooLarge = errors.New("llhls: VP8 frame over 2 MiB")

// vp8Assembler joins a VP8 track's RTP packets into frames (RFC 7741) for the transcoder.
// It starts at a keyframe and, after a lost packet, drops frames until the next keyframe:
// a decoder fed a frame with a hole shows garbage until then anyway. Its buffer is reused.
type vp8Assembler struct {
	frame   []byte
	ts      uint32
	seq     uint16
	inFrame bool // packets of the frame at ts are being collected
	started bool // a packet was seen (seq is meaningful)
	needKey bool // a loss (or the start): frames are dropped until a keyframe
	key     bool // the frame being collected is a keyframe
	depack  codecs.VP8Packet
}

func newVP8Assembler() *vp8Assembler {
	return &vp8Assembler{needKey: true, frame: make([]byte, 0, 64<<10)}
}

// push adds one packet; it returns a whole frame (valid until the next push) when the
// packet ends one. keyframe is the SFU's reading of the packet.
func (a *vp8Assembler) push(p *rtp.Packet, keyframe bool) (frame []byte, ts uint32, isKey bool, err error) {
	if a.started && int16(p.SequenceNumber-a.seq) <= 0 {
		return nil, 0, false, nil // a late retransmission or a duplicate: its frame is gone
	}
	lost := a.started && p.SequenceNumber != a.seq+1
	a.started, a.seq = true, p.SequenceNumber
	if len(p.Payload) == 0 {
		// Padding (Chrome's bandwidth probes, without RTX): takes a sequence number,
		// carries no media.
		if lost {
			a.drop()
		}
		return nil, 0, false, nil
	}
	payload, perr := a.depack.Unmarshal(p.Payload)
	if perr != nil || len(payload) == 0 {
		a.drop()
		return nil, 0, false, nil
	}
	if lost || (a.inFrame && p.Timestamp != a.ts) {
		a.drop()
	}
	if a.depack.S == 1 && a.depack.PID == 0 { // the frame's first packet
		a.frame, a.ts, a.inFrame, a.key = a.frame[:0], p.Timestamp, true, keyframe
	}
	if !a.inFrame || a.needKey && !a.key {
		return nil, 0, false, nil
	}
	if len(a.frame)+len(payload) > maxVP8Frame {
		a.drop()
		return nil, 0, false, errVP8FrameTooLarge
	}
	a.frame = append(a.frame, payload...)
	if !p.Marker {
		return nil, 0, false, nil
	}
	a.inFrame = false
	if a.key {
		a.needKey = false // only a whole keyframe starts the decoder again
	}
	return a.frame, a.ts, a.key, nil
}

// drop abandons the frame being collected and waits for a keyframe.
func (a *vp8Assembler) drop() {
	a.inFrame = false
	a.needKey = true
}

// vp8Size reads a keyframe's width and height (RFC 6386 9.1); ok is false for anything else.
func vp8Size(frame []byte) (w, h int, ok bool) {
	if len(frame) < 10 || frame[0]&1 != 0 || frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return 0, 0, false
	}
	return int(binary.LittleEndian.Uint16(frame[6:]) & 0x3fff), int(binary.LittleEndian.Uint16(frame[8:]) & 0x3fff), true
}

// IVF (the container ffmpeg reads VP8 from on a pipe): a 32-byte header, then per frame a
// 12-byte header (size, 64-bit pts) and the frame. pts are in milliseconds here, which the
// FLV that comes back keeps (flv.go), so a transcoded frame finds its RTP timestamp again.
const (
	ivfHeaderLen      = 32
	ivfFrameHeaderLen = 12
)

func ivfHeader(w, h int) []byte {
	b := make([]byte, ivfHeaderLen)
	copy(b, "DKIF")
	binary.LittleEndian.PutUint16(b[4:], 0)            // version
	binary.LittleEndian.PutUint16(b[6:], ivfHeaderLen) // header length
	copy(b[8:], "VP80")
	binary.LittleEndian.PutUint16(b[12:], uint16(w))
	binary.LittleEndian.PutUint16(b[14:], uint16(h))
	binary.LittleEndian.PutUint32(b[16:], 1000) // time base: 1/1000 s
	binary.LittleEndian.PutUint32(b[20:], 1)
	return b
}

// appendIVFFrame appends one frame with its header to dst.
func appendIVFFrame(dst, frame []byte, ptsMS int64) []byte {
	var h [ivfFrameHeaderLen]byte
	binary.LittleEndian.PutUint32(h[:], uint32(len(frame)))
	binary.LittleEndian.PutUint64(h[4:], uint64(ptsMS))
	return append(append(dst, h[:]...), frame...)
}
