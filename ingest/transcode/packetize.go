package transcode

import "encoding/binary"

// RTP packetization of H.264 (RFC 6184) for passthrough, written straight into pooled
// packets. It produces exactly what pion's codecs.H264Payloader did, one NAL unit per call,
// with a payload limit of rtpPacketSize less the RTP header (packetize_test.go compares
// them), but pion's payloader allocates every payload and its result then had to be copied
// into the pooled packet: seven allocations per access unit on a per-packet path.

const (
	rtpHeaderSize = 12 // version 2, no CSRC, no extension
	maxRTPPayload = rtpPacketSize - rtpHeaderSize

	naluTypeSTAPA = 24
	naluTypeFUA   = 28
	stapAHeader   = 0x78 // NRI 3 (the highest of what it aggregates: SPS and PPS), type 24
	fuaHeaderSize = 2    // FU indicator, FU header
	fuaStart      = 0x80
	fuaEnd        = 0x40
)

// h264Packetizer is passthrough's packetization state; passthrough's mutex guards it.
type h264Packetizer struct {
	ts uint32 // RTP timestamp of the access unit being packetized
	// SPS and PPS wait for the next NAL unit, then go out together in a STAP-A in front of
	// it, as pion does. They are copies: they may wait into the next access unit, after the
	// caller has reused its buffers.
	sps, pps       []byte
	hasSPS, hasPPS bool
	// pending is the newest packet, held back until the next one shows it is not the access
	// unit's last, which carries the marker.
	pending *packet
}

// packetize sends one NAL unit (no start code) as RTP: dropped if it is an access unit
// delimiter or filler, held if it is SPS or PPS, otherwise one packet or FU-A fragments,
// after a STAP-A of the held SPS and PPS if both are there.
func (p *passthrough) packetize(nalu []byte) {
	if len(nalu) == 0 {
		return
	}
	switch nalu[0] & 0x1f {
	case 9, 12: // access unit delimiter, filler: nothing a WebRTC decoder needs
		return
	case 7:
		p.sps, p.hasSPS = append(p.sps[:0], nalu...), true
		return
	case 8:
		p.pps, p.hasPPS = append(p.pps[:0], nalu...), true
		return
	}
	if p.hasSPS && p.hasPPS {
		p.stapA()
	}
	if len(nalu) <= maxRTPPayload {
		copy(p.next(len(nalu)), nalu)
		return
	}
	p.fuA(nalu)
}

// stapA sends the held SPS and PPS in one packet. Like pion, it drops them if they do not fit
// one packet (they are tens of bytes; a PPS or SPS near 1,200 bytes is not a real stream).
func (p *passthrough) stapA() {
	p.hasSPS, p.hasPPS = false, false
	n := 1 + 2 + len(p.sps) + 2 + len(p.pps)
	if n > maxRTPPayload {
		return
	}
	b := p.next(n)
	b[0] = stapAHeader
	binary.BigEndian.PutUint16(b[1:], uint16(len(p.sps)))
	copy(b[3:], p.sps)
	b = b[3+len(p.sps):]
	binary.BigEndian.PutUint16(b, uint16(len(p.pps)))
	copy(b[2:], p.pps)
}

// fuA sends a NAL unit too big for one packet in fragments. The NAL header byte is not sent
// as such: its NRI goes in the FU indicator and its type in each FU header.
func (p *passthrough) fuA(nalu []byte) {
	indicator := nalu[0]&0x60 | naluTypeFUA
	typ := nalu[0] & 0x1f
	rest := nalu[1:]
	for first := true; len(rest) > 0; first = false {
		size := min(maxRTPPayload-fuaHeaderSize, len(rest))
		b := p.next(fuaHeaderSize + size)
		b[0], b[1] = indicator, typ
		if first {
			b[1] |= fuaStart
		} else if size == len(rest) {
			b[1] |= fuaEnd
		}
		copy(b[fuaHeaderSize:], rest[:size])
		rest = rest[size:]
	}
}

// next sends the pending packet, makes a pooled packet with the RTP header (no marker yet)
// the pending one, and returns its payload of n bytes for the caller to fill.
func (p *passthrough) next(n int) []byte {
	p.send(false)
	pk := packetPool.Get().(*packet)
	b := pk.buf[:]
	b[0] = 0x80 // version 2
	b[1] = p.pt & 0x7f
	binary.BigEndian.PutUint16(b[2:], p.seq)
	binary.BigEndian.PutUint32(b[4:], p.ts)
	binary.BigEndian.PutUint32(b[8:], p.ssrc)
	p.seq++
	pk.n = rtpHeaderSize + n
	p.pending = pk
	return b[rtpHeaderSize:pk.n]
}

// send hands the pending packet, if any, to the queue.
func (p *passthrough) send(marker bool) {
	if p.pending == nil {
		return
	}
	if marker {
		p.pending.buf[1] |= 0x80
	}
	p.src.push(p.pending)
	p.pending = nil
}
