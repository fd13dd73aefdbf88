package simulcast

import "strings"

// Codec identifies how a payload is parsed. Only the codecs the SFU forwards are listed.
type Codec uint8

const (
	CodecUnknown Codec = iota
	CodecH264
	CodecVP8
	CodecOpus
)

// CodecFromMime maps an SDP mime type ("video/H264") to a Codec, case-insensitively.
func CodecFromMime(mime string) Codec {
	switch {
	case strings.EqualFold(mime, "video/h264"):
		return CodecH264
	case strings.EqualFold(mime, "video/vp8"):
		return CodecVP8
	case strings.EqualFold(mime, "audio/opus"):
		return CodecOpus
	}
	return CodecUnknown
}

// IsVideo reports whether packets of this codec must be gated on keyframes.
func (c Codec) IsVideo() bool { return c == CodecH264 || c == CodecVP8 }

// IsKeyframeStart reports whether an RTP payload begins a frame a decoder can start from.
// Audio (and unknown codecs, which we cannot judge) always can.
func IsKeyframeStart(c Codec, payload []byte) bool {
	switch c {
	case CodecH264:
		return isH264KeyframeStart(payload)
	case CodecVP8:
		return isVP8KeyframeStart(payload)
	}
	return true
}

// H.264 NAL unit types (RFC 6184 and ITU-T H.264 table 7-1).
const (
	naluIDR   = 5
	naluSPS   = 7
	naluStapA = 24
	naluFuA   = 28
)

// isH264KeyframeStart is true for a packet that starts a decodable access unit: one carrying
// an SPS (encoders send SPS/PPS right before the IDR) or the first fragment of an IDR slice.
// Starting at the SPS rather than the IDR matters: a viewer that starts at the IDR fragment
// has missed the parameter sets sent one packet earlier and cannot decode.
func isH264KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case naluSPS, naluIDR:
		return true
	case naluStapA:
		// STAP-A: a 1-byte header, then [16-bit size][NAL] repeated.
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if nt := p[i] & 0x1f; nt == naluSPS || nt == naluIDR {
				return true
			}
			i += size
		}
	case naluFuA:
		// FU indicator, FU header: S bit set and the fragmented type is IDR.
		return len(p) >= 2 && p[1]&0x80 != 0 && p[1]&0x1f == naluIDR
	}
	return false
}

// isVP8KeyframeStart parses the VP8 payload descriptor (RFC 7741 §4.2) and checks that the
// packet starts partition 0 of a frame whose P bit (inverse key frame flag) is 0.
func isVP8KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	x, s, pid := p[0]&0x80 != 0, p[0]&0x10 != 0, p[0]&0x07
	if !s || pid != 0 {
		return false
	}
	i := 1
	if x {
		if len(p) < 2 {
			return false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture ID, 7 or 15 bits
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX byte
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0
}
