package simulcast

import "errors"

// Errors from ParseVP8Descriptor. They live here rather than in an errors.go because this
// file is the package's only parser of them; move them if the package grows more.
var (
	// ErrVP8Truncated: the payload ends inside the VP8 payload descriptor.
	ErrVP8Truncated = errors.New("simulcast: VP8 payload descriptor truncated")
	// ErrVP8NoData: the descriptor is whole but no VP8 data follows it. RFC 7741 has every
	// packet carry part of a frame, and libwebrtc's depacketizer drops such a packet too.
	ErrVP8NoData = errors.New("simulcast: VP8 payload descriptor without data")
)

// VP8Descriptor is a parsed VP8 payload descriptor (RFC 7741 §4.2):
//
//	     0 1 2 3 4 5 6 7
//	    +-+-+-+-+-+-+-+-+
//	    |X|R|N|S|R| PID | (required)
//	    +-+-+-+-+-+-+-+-+
//	X:  |I|L|T|K| RSV   |
//	    +-+-+-+-+-+-+-+-+
//	I:  |M| PictureID   | (M=1: a second byte follows, 15 bits in all)
//	    +-+-+-+-+-+-+-+-+
//	L:  |   TL0PICIDX   |
//	    +-+-+-+-+-+-+-+-+
//	T/K:|TID|Y| KEYIDX  |
//	    +-+-+-+-+-+-+-+-+
type VP8Descriptor struct {
	NonReference bool  // N: the frame can be discarded
	Start        bool  // S: the packet starts a partition
	PartitionID  uint8 // PID (not the picture ID)

	HasPictureID bool   // I
	PictureID15  bool   // M: the picture ID was sent in the 15-bit form
	PictureID    uint16 // 7 or 15 bits, as sent

	HasTL0PICIDX bool // L
	TL0PICIDX    uint8

	HasTID    bool  // T
	TID       uint8 // 2 bits
	LayerSync bool  // Y

	HasKeyIdx bool  // K
	KeyIdx    uint8 // 5 bits
}

// ParseVP8Descriptor parses the payload descriptor at the start of an RTP VP8 payload.
// headerLen is its length in bytes; the VP8 data starts there and is never empty.
func ParseVP8Descriptor(payload []byte) (d VP8Descriptor, headerLen int, err error) {
	if len(payload) == 0 {
		return d, 0, ErrVP8Truncated
	}
	b := payload[0]
	d.NonReference, d.Start, d.PartitionID = b&0x20 != 0, b&0x10 != 0, b&0x07
	i := 1
	if b&0x80 != 0 { // X
		if len(payload) <= i {
			return d, 0, ErrVP8Truncated
		}
		x := payload[i]
		i++
		d.HasPictureID, d.HasTL0PICIDX = x&0x80 != 0, x&0x40 != 0
		d.HasTID, d.HasKeyIdx = x&0x20 != 0, x&0x10 != 0
	}
	if d.HasPictureID {
		if len(payload) <= i {
			return d, 0, ErrVP8Truncated
		}
		d.PictureID = uint16(payload[i] & 0x7f)
		if d.PictureID15 = payload[i]&0x80 != 0; d.PictureID15 {
			if len(payload) <= i+1 {
				return d, 0, ErrVP8Truncated
			}
			d.PictureID = d.PictureID<<8 | uint16(payload[i+1])
			i++
		}
		i++
	}
	if d.HasTL0PICIDX {
		if len(payload) <= i {
			return d, 0, ErrVP8Truncated
		}
		d.TL0PICIDX = payload[i]
		i++
	}
	if d.HasTID || d.HasKeyIdx {
		if len(payload) <= i {
			return d, 0, ErrVP8Truncated
		}
		tk := payload[i]
		i++
		if d.HasTID {
			d.TID, d.LayerSync = tk>>6, tk&0x20 != 0
		}
		if d.HasKeyIdx {
			d.KeyIdx = tk & 0x1f
		}
	}
	if len(payload) == i {
		return d, i, ErrVP8NoData
	}
	return d, i, nil
}

// Moduli of the rewritten fields, as masks.
const (
	pictureIDMask = 1<<15 - 1
	tl0PicIdxMask = 1<<8 - 1
	keyIdxMask    = 1<<5 - 1
)

// VP8Munger rewrites the VP8 payload descriptors of whichever source feeds an outgoing
// stream, so that its picture ID, TL0PICIDX and KEYIDX run on without a jump when the
// source changes (another simulcast layer, another encoder): a decoder that sees the picture
// ID jump assumes lost frames and asks for a keyframe. It is the descriptor-level companion
// of Munger and is called for the same packets. Not safe for concurrent use; the zero value
// is ready and it allocates nothing.
//
// Each field keeps a per-source offset, set on the first packet of a source that carries
// the field: output = input + offset, modulo the field's size. Keeping an offset rather than
// a counter maps every packet of a picture, and a late or retransmitted packet of an earlier
// picture of the same source, to the same output as the rest of its picture.
type VP8Munger struct {
	pictureID, tl0PicIdx, keyIdx vp8Field

	// inPictureID is the newest input picture ID of the current source, widened to 15 bits,
	// against which 7-bit picture IDs are unwrapped.
	inPictureID uint16

	// Pictures dropped by temporal-layer filtering, so the output's picture IDs stay dense:
	// drops[i].dropped pictures are taken off every input picture ID at or after
	// drops[i].from (current source only, newest last). A decoder that sees a picture ID
	// missing waits for it, even when the picture was only a droppable temporal layer.
	drops    [maxPictureDrops]pictureDrop
	numDrops int
}

// maxPictureDrops bounds the dropped-picture history: at 30 fps with every other picture
// dropped, about two seconds. A packet of a picture older than that (a very late
// retransmission) may be given a picture ID off by the drops forgotten.
const maxPictureDrops = 32

type pictureDrop struct{ from, dropped uint16 }

// vp8Field is the offset and output history of one descriptor field, modulo mask+1.
type vp8Field struct {
	seen   bool   // some output packet has carried the field
	joined bool   // offset is set for the current source
	offset uint16 // added to the input
	last   uint16 // newest output value, wrap-aware
}

// Switch announces that the next packet comes from another source; the caller feeds that
// source from a keyframe start on. Each field of the new source is joined onto the output on
// its first packet that carries it: output continues one past the newest value sent.
func (m *VP8Munger) Switch() {
	m.pictureID.joined, m.tl0PicIdx.joined, m.keyIdx.joined = false, false, false
	m.numDrops = 0
}

// DropPicture announces that the picture d heads is not forwarded (TemporalFilter): the
// pictures after it move down by one so the output has no hole. It needs the current source
// joined (a source starts at a keyframe, which is never dropped); it does nothing otherwise
// or when the stream has no picture IDs.
func (m *VP8Munger) DropPicture(d VP8Descriptor) {
	if !d.HasPictureID || !m.pictureID.joined {
		return
	}
	pid := m.widenPictureID(d.PictureID, d.PictureID15)
	from := (pid + 1) & pictureIDMask
	if m.numDrops > 0 && m.drops[m.numDrops-1].from == pid {
		// Consecutive dropped pictures: widen the newest entry rather than add one.
		m.drops[m.numDrops-1].from = from
		m.drops[m.numDrops-1].dropped++
		return
	}
	dropped := m.droppedAt(pid) + 1
	if m.numDrops == maxPictureDrops {
		copy(m.drops[:], m.drops[1:])
		m.numDrops--
	}
	m.drops[m.numDrops] = pictureDrop{from: from, dropped: dropped}
	m.numDrops++
}

// droppedAt is how many dropped pictures come before input picture pid.
func (m *VP8Munger) droppedAt(pid uint16) uint16 {
	for i := m.numDrops - 1; i >= 0; i-- {
		if (pid-m.drops[i].from)&pictureIDMask <= pictureIDMask>>1 { // pid at or after from
			return m.drops[i].dropped
		}
	}
	return 0
}

// Rewrite writes payload into dst with its descriptor rewritten and returns the result, a
// prefix of dst. ok is false, and nothing is remembered, when payload is malformed (see
// ParseVP8Descriptor) or dst is too small: the caller drops the packet.
//
// A picture ID is always written in the 15-bit form (M=1), so the output is one byte longer
// than the input when the input's picture ID was 7-bit, and as long otherwise: dst must have
// capacity len(payload)+1. Fields absent in the input stay absent, and every other bit is
// kept. dst may start at the same byte as payload (a rewrite in place, given one spare byte
// of capacity); payload is not written to otherwise.
func (m *VP8Munger) Rewrite(dst, payload []byte) (out []byte, ok bool) {
	d, hdr, err := ParseVP8Descriptor(payload)
	if err != nil {
		return nil, false
	}
	outHdr := hdr
	if d.HasPictureID && !d.PictureID15 {
		outHdr++
	}
	n := outHdr + len(payload) - hdr
	if cap(dst) < n {
		return nil, false
	}
	out = dst[:n]
	// Keep the bytes not rewritten before the data moves: dst may overlap payload.
	b0, x, tk := payload[0], byte(0), payload[hdr-1]
	if hdr > 1 {
		x = payload[1]
	}
	copy(out[outHdr:], payload[hdr:])

	out[0] = b0
	i := 1
	if b0&0x80 != 0 {
		out[1] = x
		i = 2
	}
	if d.HasPictureID {
		pid := m.rewritePictureID(d.PictureID, d.PictureID15)
		out[i], out[i+1] = 0x80|byte(pid>>8), byte(pid)
		i += 2
	}
	if d.HasTL0PICIDX {
		out[i] = byte(m.tl0PicIdx.rewrite(uint16(d.TL0PICIDX), tl0PicIdxMask))
		i++
	}
	if d.HasTID || d.HasKeyIdx {
		if d.HasKeyIdx {
			tk = tk&^keyIdxMask | byte(m.keyIdx.rewrite(uint16(d.KeyIdx), keyIdxMask))
		}
		out[i] = tk
	}
	return out, true
}

// rewritePictureID maps a picture ID onto the output, dropped pictures closed up.
func (m *VP8Munger) rewritePictureID(pid uint16, is15 bool) uint16 {
	pid = m.widenPictureID(pid, is15)
	return m.pictureID.rewriteShifted(pid, pictureIDMask, m.droppedAt(pid))
}

// widenPictureID widens a 7-bit picture ID to 15 bits, as the low bits of the nearest
// value to the newest seen, and keeps the newest.
func (m *VP8Munger) widenPictureID(pid uint16, is15 bool) uint16 {
	switch {
	case !m.pictureID.joined:
		m.inPictureID = pid
	case is15:
		if newer(pid, m.inPictureID, pictureIDMask) {
			m.inPictureID = pid
		}
	default:
		// The 7-bit difference, sign-extended: within ±64 pictures of the newest.
		delta := int16(int8(byte(pid-m.inPictureID)<<1) >> 1)
		pid = (m.inPictureID + uint16(delta)) & pictureIDMask
		if delta > 0 {
			m.inPictureID = pid
		}
	}
	return pid
}

// rewrite maps an input value of the current source onto the output. On the source's
// first value the offset is set so that it follows the newest output; the very first value
// of all is kept as it is, since there is nothing to be continuous with.
func (f *vp8Field) rewrite(in, mask uint16) uint16 { return f.rewriteShifted(in, mask, 0) }

// rewriteShifted is rewrite with the output moved down by shift (pictures dropped before
// this one).
func (f *vp8Field) rewriteShifted(in, mask, shift uint16) uint16 {
	in -= shift
	if !f.joined {
		if f.seen {
			f.offset = (f.last + 1 - in) & mask
		} else {
			f.seen, f.offset, f.last = true, 0, in
		}
		f.joined = true
	}
	out := (in + f.offset) & mask
	if newer(out, f.last, mask) {
		f.last = out
	}
	return out
}

// newer reports whether a comes after b in a sequence space of size mask+1: less than half
// of it ahead.
func newer(a, b, mask uint16) bool {
	d := (a - b) & mask
	return d != 0 && d <= mask>>1
}
