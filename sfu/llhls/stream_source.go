package llhls

import (
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// The host's own AAC (an RTMP host's, sfu.SourceAudio) is muxed as it came: no ffmpeg, no
// second lossy encode, and the variants declare the encoder's own sample rate. While the
// room offers one the stage's Opus (the ladder's, made from this same AAC) is not used.

// sourceAAC is the room's source audio if the stream may mux it: the operator asked for
// AAC, and the variants declared nothing yet or the same AAC.
func (s *stream) sourceAAC() *sfu.SourceAudio {
	a := s.room.SourceAudio()
	if a == nil || s.cfg.AudioCodec != "aac" || s.aac.fallback {
		return nil
	}
	if s.aac.config == nil {
		return a
	}
	// Asked for every audio packet: the answer is kept per source and declaration.
	m := &s.audio.match
	if m.source != a || m.declared != s.aac.config {
		var c mpeg4audio.AudioSpecificConfig
		m.source, m.declared, m.same = a, s.aac.config, c.Unmarshal(a.Config) == nil && sameAAC(&c, s.aac.config)
	}
	if !m.same {
		return nil
	}
	return a
}

// handleSourceAudio muxes one unit of the host's AAC (p.audio).
func (s *stream) handleSourceAudio(p *packet) {
	if !s.haveEpoch || p.n == 0 || s.sourceAAC() != p.audio {
		return
	}
	a := &s.audio
	if a.source != p.audio || !a.clock.started {
		if s.aac.config == nil {
			var c mpeg4audio.AudioSpecificConfig
			if err := c.Unmarshal(p.audio.Config); err != nil {
				return // ingest/rtmp offers only configurations it parsed
			}
			s.aac.config, s.aac.raw = &c, p.audio.Config
		}
		s.restartAAC() // an ffmpeg for an earlier WebRTC host's Opus is not needed now
		a.src, a.source = nil, p.audio
		a.clock.start(p.ts, p.capture, s.epoch, p.audio.Rate)
		s.log.Info("LL-HLS muxes the host's own AAC", zap.Int("sample_rate", int(p.audio.Rate)))
		s.askWaitingLayers(time.Now())
	}
	s.writeAudio(p.ts, p.buf[:p.n])
}

// redecideAudio lets the next variants declare audio afresh once no variant is left (the
// host republished, or its layers stopped): what the variants declared binds only while one
// of them runs. Without it a 44.1 kHz RTMP host's AAC, followed by a WebRTC host, left every
// later variant declaring 44.1 kHz AAC that the new host's Opus could not become (its
// audio left out and the video held for it), and a stream that started on Opus stayed Opus
// for an RTMP host's own AAC.
func (s *stream) redecideAudio() {
	for l := range s.variants {
		if s.variants[l].Load() != nil {
			return
		}
	}
	if s.aac.config == nil && !s.aac.fallback {
		return
	}
	s.restartAAC() // an ffmpeg making the declared AAC is no use to what comes next
	s.aac.config, s.aac.raw, s.aac.fallback, s.aac.warnedFor = nil, nil, false, nil
	s.audio.src, s.audio.source = nil, nil // the audio clock starts again with the next audio
	s.audio.clock = sourceClock{}
	s.audioFrom = time.Now() // and the next variants wait for it as the first did
}

// sameAAC reports whether two AAC configurations describe the same stream for a player:
// the variants declare one, and any audio muxed into them must match it.
func sameAAC(a, b *mpeg4audio.AudioSpecificConfig) bool {
	return a.Type == b.Type && a.SampleRate == b.SampleRate && a.ChannelConfig == b.ChannelConfig &&
		a.ExtensionType == b.ExtensionType && a.ExtensionSampleRate == b.ExtensionSampleRate
}
