package rtmp

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/glintlive/glint/ingest/transcode"
)

// Source describes a host's stream once its headers and first frames are read: what the
// transcoder needs to set up its ladder. The probe fills it.
type Source = transcode.Source

// probeWindow is how much stream time the probe buffers at most before deciding: enough
// for an encoder's first reordered frame or its audio header, short enough that a host's
// first picture is not held back noticeably.
const probeWindow = time.Second

// maxProbeEvents bounds the buffer whatever the timestamps say (a stream whose clock does
// not advance must not grow it forever): 1 s of 60 fps video and 48 kHz AAC is ~110.
const maxProbeEvents = 400

// prober reads a publish's first events and decides what the stream is. Events are kept
// so that nothing is lost: they are fed to the ladder once it runs.
type prober struct {
	src      Source
	meta     *metadata
	buffered []event
	started  bool
	start    time.Duration // DTS of the first media event
	videoAt  time.Duration // DTS of the first video frame after the configuration
	seenAU   bool
	decided  bool // B-frames known (or no video)
}

// add takes the next event and reports whether the probe is done. An error refuses the
// stream.
func (p *prober) add(ev event) (bool, error) {
	switch ev.kind {
	case evNone:
		return false, nil
	case evMetadata:
		p.meta = &ev.meta
		if p.src.FPS == 0 {
			p.src.FPS = ev.meta.fps
		}
		return p.done(), nil
	case evVideoConfig:
		if err := p.videoConfig(ev.sps, ev.pps); err != nil {
			return false, err
		}
	case evAudioConfig:
		b, err := ev.asc.Marshal()
		if err != nil {
			return false, fmt.Errorf("%w: AAC configuration: %v", ErrBadStream, err)
		}
		p.src.HasAudio, p.src.AudioConfig = true, b
	case evVideo:
		if p.src.HasVideo {
			p.videoFrame(ev)
		}
	}
	if ev.kind == evVideo || ev.kind == evAudio {
		if !p.started {
			p.started, p.start = true, ev.dts
		}
	}
	p.buffered = append(p.buffered, ev)
	if p.done() {
		return true, nil
	}
	if p.windowOver(ev) {
		return true, p.finish()
	}
	return false, nil
}

// videoConfig reads the SPS. Some streams say up front whether they reorder frames:
// Baseline has no B-frames, and an SPS with bitstream restrictions states
// max_num_reorder_frames. Others (x264 without VUI restrictions) must be watched.
func (p *prober) videoConfig(sps, pps []byte) error {
	var s h264.SPS
	if err := s.Unmarshal(sps); err != nil {
		return fmt.Errorf("%w: H.264 SPS: %v", ErrBadStream, err)
	}
	w, h := s.Width(), s.Height()
	if w < 16 || h < 16 || w > 8192 || h > 8192 {
		return fmt.Errorf("%w: H.264 picture %dx%d", ErrBadStream, w, h)
	}
	p.src.HasVideo = true
	p.src.Width, p.src.Height = w, h
	p.src.SPS, p.src.PPS = sps, pps
	p.src.ProfileLevelID = profileLevelID(&s, sps)
	if fps := s.FPS(); fps > 0 && fps <= 240 {
		p.src.FPS = fps
	}
	if p.decided {
		return nil // a repeated configuration does not reopen the decision
	}
	switch {
	case s.ProfileIdc == 66: // Baseline and Constrained Baseline have no B slices
		p.decided = true
	case s.VUI != nil && s.VUI.BitstreamRestriction != nil:
		p.src.BFrames = s.VUI.BitstreamRestriction.MaxNumReorderFrames > 0
		p.decided = true
	}
	return nil
}

// videoFrame watches timestamps: a frame shown later than it is decoded means reordering.
func (p *prober) videoFrame(ev event) {
	if !p.seenAU {
		p.seenAU, p.videoAt = true, ev.dts
	}
	if p.decided {
		return
	}
	if ev.pts != ev.dts {
		p.src.BFrames, p.decided = true, true
		return
	}
	if ev.dts-p.videoAt >= probeWindow {
		p.decided = true // a second of frames in order: the encoder does not reorder
	}
}

// done: every track the encoder announced has its configuration and the B-frame question
// is settled. Without metadata the probe cannot know whether audio will come and waits
// for the window.
func (p *prober) done() bool {
	if p.meta == nil {
		return p.src.HasVideo && p.src.HasAudio && p.decided
	}
	if p.meta.video && !(p.src.HasVideo && p.decided) {
		return false
	}
	if p.meta.audio && !p.src.HasAudio {
		return false
	}
	return p.src.HasVideo || p.src.HasAudio
}

// windowOver: the probe has buffered all it may.
func (p *prober) windowOver(ev event) bool {
	if len(p.buffered) >= maxProbeEvents {
		return true
	}
	return p.started && (ev.kind == evVideo || ev.kind == evAudio) && ev.dts-p.start >= probeWindow
}

// finish decides with what arrived in the window: a track still without configuration is
// left out, and video that showed no reordering is taken as having none.
func (p *prober) finish() error {
	if !p.src.HasVideo && !p.src.HasAudio {
		return fmt.Errorf("%w: no H.264 or AAC configuration within %s of stream", ErrBadStream, probeWindow)
	}
	p.decided = true
	return nil
}

// profileLevelID is the stream's profile-level-id as viewers are offered it. Encoders set
// constraint flags beyond the profile (x264's Baseline is 42c0xx, its Main 4d40xx), and the
// SFU offers the canonical forms (42e01f constrained baseline, 42001f, 4d001f, 64001f);
// declaring only the profile's own constraint is always safe for a decoder, and for
// profile_idc 66 constraint_set1 is what makes it constrained baseline.
func profileLevelID(s *h264.SPS, sps []byte) string {
	iop := sps[2]
	switch s.ProfileIdc {
	case 66:
		iop = 0x00
		if s.ConstraintSet1Flag {
			iop = 0xe0
		}
	case 77, 100:
		iop = 0x00
	}
	return hex.EncodeToString([]byte{sps[1], iop, sps[3]})
}
