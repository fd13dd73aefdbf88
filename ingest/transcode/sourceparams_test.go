package transcode

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// The tests build a Source from an encoded clip's parameter sets, as ingest/rtmp's probe does
// from a host's sequence header (in production the probe fills Source itself).

// setParams fills the video fields from the stream's SPS and PPS (the RTMP sequence header):
// size, frame rate when the SPS carries timing, profile-level-id, and BFrames when the SPS
// allows reordering (a profile with B-frames whose VUI does not promise none). BFrames is
// only ever set here, never cleared: ingest/rtmp also sets it on seeing pts != dts.
func (s *Source) setParams(sps, pps []byte) error {
	var p h264.SPS
	if err := p.Unmarshal(sps); err != nil {
		return fmt.Errorf("%w: SPS: %w", ErrInvalidSource, err)
	}
	w, h := p.Width(), p.Height()
	if w <= 0 || h <= 0 || w > 8192 || h > 8192 {
		return fmt.Errorf("%w: SPS says %dx%d", ErrInvalidSource, w, h)
	}
	s.Width, s.Height, s.HasVideo = w, h, true
	if fps := p.FPS(); fps > 0 && fps <= 240 {
		s.FPS = fps
	}
	s.SPS, s.PPS = append([]byte(nil), sps...), append([]byte(nil), pps...)
	s.ProfileLevelID = profileLevelID(sps)
	if mayReorder(&p) {
		s.BFrames = true
	}
	return nil
}

// profileLevelID is the SDP profile-level-id of an SPS: profile_idc, the constraint flags
// byte and level_idc, in hex.
func profileLevelID(sps []byte) string {
	if len(sps) < 4 {
		return ""
	}
	return fmt.Sprintf("%02x%02x%02x", sps[1], sps[2], sps[3])
}

// mayReorder reports whether a stream with this SPS can carry frames out of display order.
// Baseline (and constrained baseline) have no B slices; otherwise only a VUI bitstream
// restriction with max_num_reorder_frames 0 promises none.
func mayReorder(p *h264.SPS) bool {
	if p.ProfileIdc == 66 {
		return false
	}
	if p.VUI != nil && p.VUI.BitstreamRestriction != nil {
		return p.VUI.BitstreamRestriction.MaxNumReorderFrames > 0
	}
	return true
}
