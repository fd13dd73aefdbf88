package transcode

import (
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// Source describes the host's stream, known once the RTMP stream's headers (and, for B-frame
// detection, the first frames) are read. Only H.264 video and AAC audio reach here; ingest/rtmp
// refuses the rest.
type Source struct {
	Width, Height  int     // from the SPS
	FPS            float64 // 0 when unknown
	BFrames        bool    // the source reorders frames (pts != dts seen): cannot be passed through
	SPS, PPS       []byte
	ProfileLevelID string // "42e01f" style, from the SPS (used for passthrough's codec)
	HasVideo       bool
	HasAudio       bool
	AudioConfig    []byte // AAC AudioSpecificConfig bytes (nil without audio)
}

// params keeps the latest SPS and PPS of a stream and puts them in front of every IDR that
// lacks them. RTMP carries them only in the sequence header, but a decoder joining mid-stream
// (a viewer, or a restarted ffmpeg) needs them at the keyframe it starts from.
type params struct {
	sps, pps []byte
	au       [][]byte // reused for the access unit with parameters prepended
}

// apply records in-band parameter sets and returns au, with SPS and PPS prepended if it is an
// IDR without them. The result is valid until the next call.
func (p *params) apply(au [][]byte) [][]byte {
	idr, hasSPS, hasPPS := false, false, false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeIDR:
			idr = true
		case h264.NALUTypeSPS:
			hasSPS = true
			p.sps = append(p.sps[:0], n...)
		case h264.NALUTypePPS:
			hasPPS = true
			p.pps = append(p.pps[:0], n...)
		}
	}
	if !idr || (hasSPS && hasPPS) || p.sps == nil || p.pps == nil {
		return au
	}
	rest := au
	p.au = p.au[:0]
	if n := au[0]; len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
		p.au, rest = append(p.au, n), au[1:] // a delimiter must stay first
	}
	if !hasSPS {
		p.au = append(p.au, p.sps)
	}
	if !hasPPS {
		p.au = append(p.au, p.pps)
	}
	p.au = append(p.au, rest...)
	return p.au
}

// isKeyframe reports whether au holds an IDR picture.
func isKeyframe(au [][]byte) bool {
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeIDR {
			return true
		}
	}
	return false
}
