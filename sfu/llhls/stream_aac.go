package llhls

import (
	"bytes"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// aacState turns the room's Opus into AAC, which every HLS player decodes (Apple's native
// players before iOS 18.4 do not play Opus), with ffmpeg, while the stream runs: Opus
// packets go in as Ogg pages dated by their RTP timestamps (ogg.go), AAC frames come back as
// FLV with the input's milliseconds, which put each frame back on the room's audio clock.
// Owned by the stream's goroutine.
type aacState struct {
	transcodeSlot
	config   *mpeg4audio.AudioSpecificConfig // from ffmpeg's first output; fixed for the stream
	raw      []byte                          // config as ffmpeg sent it
	fallback bool                            // the variants declared Opus (no AAC in time, none asked, or no ffmpeg): the stream stays Opus

	// input: RTP timestamps from the first packet this ffmpeg got
	ts0 uint32
	rtp rtpUnwrap

	// output: the first AAC frame's position, so frames are exactly 1024 samples apart
	first    int64  // ms of this ffmpeg's first frame, -1 before it
	next     uint32 // the RTP timestamp the next AAC frame starts at
	haveNext bool
	silence  []byte // an AAC frame of silence (the first ffmpeg's priming frame)

	warnedFor *sfu.Receiver // the audio source opusToDeclaredAAC last said why for
}

// aacOffsetMS is where the first packet sits on ffmpeg's timeline: late enough that the
// encoder's priming frame (1024 samples before the first) has no negative timestamp, which
// FLV cannot carry and ffmpeg would shift everything to avoid.
const aacOffsetMS = 1000

// aacFrame is an AAC frame's length in samples.
const aacFrame = 1024

// aacArgs: Opus in from Ogg, silence where the input has a gap (so output time stays input
// time), AAC-LC 128 kbit/s stereo out as FLV, timestamps kept.
func aacArgs() []string {
	return []string{
		"-hide_banner", "-loglevel", "error",
		"-probesize", "32", "-analyzeduration", "0", "-f", "ogg", "-i", "pipe:0",
		"-af", "aresample=async=1:min_hard_comp=0.02",
		"-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
		"-copyts", "-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1", "-f", "flv", "pipe:1",
	}
}

// aacMode reports whether the stream's audio is to be AAC.
func (s *stream) aacMode() bool {
	return s.cfg.FFmpeg != "" && s.cfg.AudioCodec == "aac" && !s.aac.fallback
}

// pushAAC sends one Opus packet (s.pkt, its clock started) to ffmpeg, starting one if needed.
func (s *stream) pushAAC(now time.Time) {
	a := &s.aac
	n, err := opusSamples(s.pkt.Payload)
	if err != nil || len(s.pkt.Payload) > maxOggPacket {
		return
	}
	if a.tc != nil {
		if step := a.rtp.step(s.pkt.Timestamp); step > aacJump || step < -aacJump/2 {
			// The host's timestamps jumped (a restarted encoder): this ffmpeg would fill the
			// whole jump with silence. A new one starts from here.
			a.stop()
			a.haveNext = false
		}
	}
	if a.hung(now) {
		s.aacFailed(fmt.Sprintf("no output for %v while packets went in", transcodeStall))
	}
	if a.tc == nil {
		if !a.canStart(now) {
			s.fillSilence()
			return
		}
		seq := uint32(2) // after the two header pages
		page := func(dst, packet []byte, granule int64) []byte {
			seq++ // runs only for a packet that is written (push had a buffer)
			return appendOggPage(dst, 0, granule, seq-1, packet)
		}
		tc, err := startTranscoder(s.cfg.FFmpeg, aacArgs(), oggOpusHeaders(), page)
		if err != nil && a.config == nil {
			// No variant declares AAC yet, and an ffmpeg that cannot even start will not
			// start on a retry: the stream is Opus now rather than after waitForAudio's wait.
			a.fallback = true
			s.log.Warn("LL-HLS: cannot start ffmpeg for AAC; this stream's audio is Opus", zap.Error(err))
			return
		}
		if err != nil {
			s.aacFailed(err.Error())
			return
		}
		a.started(tc)
		a.ts0, a.rtp, a.first = s.pkt.Timestamp, rtpUnwrap{}, -1
		s.log.Info("LL-HLS transcodes the host's Opus to AAC")
	}
	at := a.rtp.next(s.pkt.Timestamp)
	if at < 0 {
		return // older than this ffmpeg's first packet
	}
	// The page's granule position is the packet's end (RFC 7845 4), on ffmpeg's timeline.
	granule := aacOffsetMS*opusRate/1000 + at + int64(n)
	a.fed(now)
	if !a.tc.push(s.pkt.Payload, granule) {
		transcodeDropped.Inc()
	}
	s.fillSilence()
}

// opusToDeclaredAAC reports whether the room's Opus can go into the AAC the variants
// declared: through ffmpeg, whose AAC is LC at 48 kHz in stereo. Variants that declared an
// RTMP host's own AAC at another rate cannot take it (their audio track's rate is fixed);
// its audio is then left out, said once per source, until the variants restart (a new host
// session) and decide their audio afresh (redecideAudio).
func (s *stream) opusToDeclaredAAC(src *sfu.Receiver) bool {
	c := s.aac.config
	if s.aacMode() && c.Type == mpeg4audio.ObjectTypeAACLC && c.SampleRate == opusRate && c.ChannelConfig == 2 {
		return true
	}
	if s.aac.warnedFor != src { // once per source: a replaced RTMP host's last Opus is no reason to stay quiet
		s.aac.warnedFor = src
		s.log.Warn("LL-HLS: the host's audio cannot go into this stream's AAC (declared from an earlier host's own AAC, or no ffmpeg); its audio is left out",
			zap.Int("declared_rate", c.SampleRate), zap.Uint8("declared_channels", c.ChannelConfig))
	}
	return false
}

// maxFill bounds the silent frames written for one packet (a second's worth); a longer
// hole stays a hole.
const maxFill = opusRate / aacFrame

// fillSilence keeps the AAC going while no ffmpeg gives any (a crashed one's successor is
// starting): AAC variants cannot fall back to Opus, and audio parts with no audio stall
// hls.js. Silent frames are written up to the packet that just came; the new ffmpeg's
// frames for times already filled are then dropped.
func (s *stream) fillSilence() {
	a := &s.aac
	if !a.haveNext || a.silence == nil || (a.tc != nil && a.first >= 0) {
		return
	}
	behind := int32(s.pkt.Timestamp - a.next)
	if behind < 0 {
		return
	}
	if behind > maxFill*aacFrame {
		a.next += uint32(behind) - maxFill*aacFrame
	}
	for int32(s.pkt.Timestamp-a.next) >= 0 {
		s.writeAudio(a.next, a.silence)
		a.next += aacFrame
	}
}

// aacJump is the largest step between two packets' timestamps one ffmpeg takes (2 s at
// 48 kHz): more, or a step back of half as much, is a new timeline.
const aacJump = 2 * opusRate

// restartAAC drops the running audio transcoder for a new one at the next packet, now:
// the host's audio source changed, which is no failure.
func (s *stream) restartAAC() {
	s.aac.reset()
	s.aac.haveNext = false
}

// handleAAC takes one AAC frame from ffmpeg, or its end (ok false).
func (s *stream) handleAAC(t transcodedAU, ok bool) {
	a := &s.aac
	if !ok {
		s.aacFailed("")
		return
	}
	var c mpeg4audio.AudioSpecificConfig
	if err := c.Unmarshal(t.config); err != nil {
		s.aacFailed(fmt.Sprintf("its AAC configuration: %v", err))
		return
	}
	if a.config == nil {
		a.config, a.raw = &c, t.config
	} else if !sameAAC(&c, a.config) {
		// The variants declared the first configuration and keep it.
		s.aacFailed(fmt.Sprintf("a restarted ffmpeg chose another AAC configuration (%x, not %x)", t.config, a.raw))
		return
	}
	a.gotOutput()
	if t.ms < aacOffsetMS-aacFrame*1000/opusRate/2 {
		// The encoder's priming frame, before the first packet: silence, kept to fill with.
		if a.silence == nil {
			a.silence = bytes.Clone(t.au[0])
		}
		return
	}
	// Frames are 1024 samples apart; FLV's milliseconds are rounded, so snap to the grid.
	if a.first < 0 {
		a.first = t.ms
	}
	n := ((t.ms-a.first)*opusRate/1000 + aacFrame/2) / aacFrame
	samples := (a.first-aacOffsetMS)*opusRate/1000 + n*aacFrame
	ts := a.ts0 + uint32(samples)
	if a.haveNext && int32(ts-a.next) < -aacFrame/2 {
		return // a time already filled with silence while this ffmpeg started
	}
	s.writeAudio(ts, t.au[0])
	a.next, a.haveNext = ts+aacFrame, true
}

// aacFailed stops a crashed, hung or unstartable ffmpeg (transcodeSlot.failed) and logs
// why; silent frames fill in until the next gives AAC (fillSilence).
func (s *stream) aacFailed(why string) {
	why, wait := s.aac.failed(time.Now(), why)
	s.log.Warn("LL-HLS: the Opus to AAC transcoder failed", zap.String("why", why), zap.Duration("retry after", wait))
}
