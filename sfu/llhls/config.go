package llhls

import (
	"fmt"
	"time"
)

// Config tunes the LL-HLS origin.
type Config struct {
	// Enabled serves /hls/{room}/...; off, those paths answer 404.
	Enabled bool `yaml:"enabled"`
	// CheckTokens checks every request's token (canSubscribe for the room, in
	// ?access_token=, or none when anonymous viewing is on). A CDN deployment that signs its
	// own URLs and checks them at the edge turns it off, so that the cache is shared by
	// every viewer (docs/LLHLS.md); Glint's address must then be reachable by the CDN only.
	CheckTokens bool `yaml:"check_tokens"`
	// PartTarget is EXT-X-PART-INF's PART-TARGET, constant for a stream's life (Apple's
	// players stop for good when it changes between reloads). Parts are cut on frame
	// boundaries at the largest whole number of frames that fits in it.
	PartTarget time.Duration `yaml:"part_target"`
	// SegmentDuration is the shortest segment: a segment ends at the first keyframe after it,
	// and the publisher is asked for a keyframe when its GOP is longer.
	SegmentDuration time.Duration `yaml:"segment_duration"`
	// TargetDuration is EXT-X-TARGETDURATION (whole seconds, constant); a segment longer
	// than it (a publisher that ignores keyframe requests) is logged and counted.
	TargetDuration time.Duration `yaml:"target_duration"`
	// SegmentCount is how many segments a media playlist lists (gohlslib needs >= 7).
	SegmentCount int `yaml:"segment_count"`
	// IdleTimeout stops a room's muxing when no request for it came in that long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// StartTimeout is how long a first request waits for a new stream's first part.
	StartTimeout time.Duration `yaml:"start_timeout"`
	// MaxStreams bounds the rooms muxed at once (503 beyond).
	MaxStreams int `yaml:"max_streams"`
	// QueuePackets bounds a stream's packet queue; a full queue drops (and counts).
	QueuePackets int `yaml:"queue_packets"`
	// FFmpeg transcodes a VP8 host's top layer to H.264 while the room's LL-HLS stream runs
	// (it stops IdleTimeout after the last request). The server checks it at start (it
	// needs libx264); "" (or an ffmpeg that fails the check) answers a VP8 room with 404
	// and the reason.
	FFmpeg string `yaml:"ffmpeg"`
	// TranscodeMaxKbps caps the transcoded H.264's bitrate.
	TranscodeMaxKbps int `yaml:"transcode_max_kbps"`

	// AudioCodec is the LL-HLS audio: "aac" (default; an RTMP host's own AAC as it came,
	// else the host's Opus through FFmpeg; every HLS player decodes it, Apple's native ones
	// before iOS 18.4 included) or "opus" (the host's Opus, no ffmpeg; Chromium, Firefox and
	// recent Safari). Without FFmpeg it is Opus, but for an RTMP host's own AAC.
	AudioCodec string `yaml:"audio_codec"`

	// passthrough is how this ffmpeg is told to keep every frame's timestamp (New asks it).
	passthrough []string
}

// DefaultConfig is LL-HLS on, with 200 ms parts and ~1 s segments.
func DefaultConfig() Config {
	return Config{
		Enabled:          true,
		CheckTokens:      true,
		PartTarget:       200 * time.Millisecond,
		SegmentDuration:  time.Second,
		TargetDuration:   2 * time.Second,
		SegmentCount:     7,
		IdleTimeout:      30 * time.Second,
		StartTimeout:     5 * time.Second,
		MaxStreams:       64,
		QueuePackets:     2048,
		FFmpeg:           "ffmpeg",
		TranscodeMaxKbps: 2500,
		AudioCodec:       "aac",
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.PartTarget < 50*time.Millisecond || c.PartTarget > 2*time.Second:
		return fmt.Errorf("llhls: part_target %v: want 50ms..2s", c.PartTarget)
	case c.SegmentDuration < c.PartTarget || c.SegmentDuration > 10*time.Second:
		return fmt.Errorf("llhls: segment_duration %v: want part_target..10s", c.SegmentDuration)
	case c.TargetDuration < time.Second || c.TargetDuration%time.Second != 0 || c.TargetDuration < c.SegmentDuration:
		return fmt.Errorf("llhls: target_duration %v: want whole seconds, at least 1s and segment_duration", c.TargetDuration)
	case c.SegmentCount < 7 || c.SegmentCount > 60:
		return fmt.Errorf("llhls: segment_count %d: want 7..60", c.SegmentCount)
	case c.IdleTimeout < time.Second:
		return fmt.Errorf("llhls: idle_timeout %v: want at least 1s", c.IdleTimeout)
	case c.StartTimeout < 100*time.Millisecond || c.StartTimeout > time.Minute:
		return fmt.Errorf("llhls: start_timeout %v: want 100ms..1m", c.StartTimeout)
	case c.MaxStreams < 1:
		return fmt.Errorf("llhls: max_streams %d: want at least 1", c.MaxStreams)
	case c.QueuePackets < 64 || c.QueuePackets > 1<<16:
		return fmt.Errorf("llhls: queue_packets %d: want 64..65536", c.QueuePackets)
	case c.AudioCodec != "aac" && c.AudioCodec != "opus":
		return fmt.Errorf("llhls: audio_codec %q: want aac or opus", c.AudioCodec)
	case c.FFmpeg != "" && c.TranscodeMaxKbps < 100 || c.TranscodeMaxKbps > 50000:
		return fmt.Errorf("llhls: transcode_max_kbps %d: want 100..50000", c.TranscodeMaxKbps)
	}
	return nil
}

// blockTimeout is the longest a blocking playlist or preload-hint request waits: three
// target durations, as RFC 8216bis bounds it.
func (c Config) blockTimeout() time.Duration { return 3 * c.TargetDuration }
