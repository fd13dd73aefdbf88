package rtmp

import (
	"bytes"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// feeder hands a stream's frames to the ladder with times from the start of the stream.
type feeder struct {
	ladder Ladder
	src    Source
	audio  *sourceAudio // the AAC as it came, for LL-HLS (nil: not passed on)

	based    bool
	base     time.Duration // the stream's first timestamp: RTMP clocks need not start at 0
	sps, pps []byte
	keyed    bool // a keyframe has been written: frames before it cannot be decoded
}

// run feeds the probe's buffered events, then whatever next returns, until next or the
// ladder fails.
func (f *feeder) run(buffered []event, next func() (event, error)) error {
	f.sps, f.pps = f.src.SPS, f.src.PPS
	for _, ev := range buffered {
		if ev.kind == evVideo || ev.kind == evAudio {
			if !f.based || ev.dts < f.base {
				f.based, f.base = true, ev.dts
			}
		}
	}
	for _, ev := range buffered {
		if err := f.feed(ev); err != nil {
			return err
		}
	}
	for {
		ev, err := next()
		if err != nil {
			return err
		}
		if err := f.feed(ev); err != nil {
			return err
		}
	}
}

func (f *feeder) feed(ev event) error {
	switch ev.kind {
	case evVideoConfig:
		if err := f.sameVideo(ev.sps); err != nil {
			return err
		}
		f.sps, f.pps = ev.sps, ev.pps
	case evVideo:
		if !f.src.HasVideo {
			return nil
		}
		key := h264.IsRandomAccess(ev.nalus)
		if !key && !f.keyed {
			return nil
		}
		f.keyed = true
		au := ev.nalus
		if key {
			au = withParameterSets(au, f.sps, f.pps)
		}
		pts, dts := f.since(ev.pts), f.since(ev.dts)
		f.audio.wroteVideo(dts, key)
		return f.ladder.WriteH264(pts, dts, au)
	case evAudio:
		if !f.src.HasAudio || len(ev.aac) == 0 {
			return nil
		}
		pts := f.since(ev.pts)
		f.audio.wroteAudio(pts)
		f.audio.write(pts, ev.aac)
		return f.ladder.WriteAAC(pts, ev.aac)
	}
	return nil
}

// sameVideo checks a repeated video configuration against the probed one. The ladder (its
// sizes) and the passthrough decision (no B-frames, a profile viewers were offered) were
// made for the probed stream: an encoder that changes either mid-stream must reconnect and
// be probed again, since, passed through, a switch to a profile with B-frames would reach
// viewers who cannot decode it.
func (f *feeder) sameVideo(sps []byte) error {
	if !f.src.HasVideo || bytes.Equal(sps, f.src.SPS) {
		return nil
	}
	var p prober
	if err := p.videoConfig(sps, nil); err != nil {
		return err
	}
	if p.src.Width != f.src.Width || p.src.Height != f.src.Height || p.src.ProfileLevelID[:2] != f.src.ProfileLevelID[:2] {
		return fmt.Errorf("%w: %dx%d profile %s, was %dx%d profile %s", ErrStreamChanged,
			p.src.Width, p.src.Height, p.src.ProfileLevelID[:2], f.src.Width, f.src.Height, f.src.ProfileLevelID[:2])
	}
	if p.decided && p.src.BFrames && !f.src.BFrames {
		return fmt.Errorf("%w: the encoder now sends B-frames", ErrStreamChanged)
	}
	return nil
}

func (f *feeder) since(t time.Duration) time.Duration {
	if !f.based {
		f.based, f.base = true, t
	}
	return max(0, t-f.base)
}

// withParameterSets puts the SPS and PPS in front of a keyframe that lacks them. RTMP
// carries them once, in the configuration message; a decoder that starts at a later
// keyframe (a viewer joining a passthrough stream, ffmpeg restarted by its supervisor)
// needs them in band.
func withParameterSets(au [][]byte, sps, pps []byte) [][]byte {
	hasSPS, hasPPS := false, false
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			hasSPS = true
		case h264.NALUTypePPS:
			hasPPS = true
		}
	}
	if hasSPS && hasPPS {
		return au
	}
	out := make([][]byte, 0, len(au)+2)
	for _, n := range au { // an access unit delimiter must stay first
		if len(n) > 0 {
			if t := h264.NALUType(n[0] & 0x1f); t == h264.NALUTypeAccessUnitDelimiter {
				out = append(out, n)
			}
		}
	}
	if !hasSPS {
		out = append(out, sps)
	}
	if !hasPPS {
		out = append(out, pps)
	}
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
			continue
		}
		out = append(out, n)
	}
	return out
}
