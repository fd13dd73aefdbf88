package transcode

import (
	"fmt"
	"time"
)

// Rendition is one rung of the ladder; the outputs enter the SFU as simulcast layers.
type Rendition struct {
	RID     string `yaml:"rid"`     // "f", "h" or "q"
	Height  int    `yaml:"height"`  // output height in pixels; width keeps the source aspect ratio, rounded to even
	Bitrate int    `yaml:"bitrate"` // video bits per second
}

// DefaultLadder: 1080p / 720p / 480p (f/h/q). Rungs above the source height are dropped (never
// upscale); if every rung is above the source, one rung at the source height remains.
var DefaultLadder = []Rendition{{"f", 1080, 4_500_000}, {"h", 720, 2_500_000}, {"q", 480, 1_000_000}}

// Passthrough says when the source video may be forwarded without re-encoding.
type Passthrough string

const (
	PassthroughAuto  Passthrough = "auto"  // forward the source H.264 as the only layer when it has no B-frames
	PassthroughNever Passthrough = "never" // always run the ladder
)

// Config is the ladder's configuration; the zero value means every default.
type Config struct {
	FFmpeg       string        `yaml:"ffmpeg"`        // ffmpeg path; "" looks up "ffmpeg" on PATH
	Ladder       []Rendition   `yaml:"ladder"`        // nil: DefaultLadder
	Passthrough  Passthrough   `yaml:"passthrough"`   // "": PassthroughAuto
	Preset       string        `yaml:"preset"`        // x264 preset; "": "veryfast" (keeps a 720p30 source's ladder real time on 2 cores)
	GOP          time.Duration `yaml:"gop"`           // keyframe interval; 0: 1s, so a viewer joins or switches layer within a second
	AudioBitrate int           `yaml:"audio_bitrate"` // Opus bits/s; 0: 96000
	MinBackoff   time.Duration `yaml:"min_backoff"`   // ffmpeg restart back-off; 0: 250ms
	MaxBackoff   time.Duration `yaml:"max_backoff"`   // 0: 8s
	StallTimeout time.Duration `yaml:"stall_timeout"` // input flows but no output for this long: restart ffmpeg; 0: 5s
	// QueueFrames bounds the input waiting for ffmpeg's stdin, in access units (video and
	// audio together); past it input is dropped until the next keyframe. 0: 256, about three
	// seconds of 30 fps video with its audio.
	QueueFrames int `yaml:"queue_frames"`
	// QueueBytes bounds the same queue in bytes of MPEG-TS: an RTMP message can carry 10 MiB,
	// so a frame count alone would let a host whose ffmpeg falls behind make the server hold
	// gigabytes. Past it input is dropped as past QueueFrames. 0: 32 MiB, a few seconds of a
	// 50 Mbit/s source; at least MaxAccessUnitBytes, so that an empty queue takes any access
	// unit the Ladder accepts.
	QueueBytes int `yaml:"queue_bytes"`
	// OverloadLag is how far behind ffmpeg's input may fall: when the host's frames wait
	// longer than this to be taken, for 3 s in a row while ffmpeg produces output, the
	// ladder cannot keep up with the host on this machine, and ffmpeg is restarted with less
	// work: first the ultrafast preset, then without its top rung, down to one. 0: 1s;
	// negative: never shed (the ladder falls behind until the queue overflows and drops
	// video until the next keyframe).
	OverloadLag time.Duration `yaml:"overload_lag"`
	// RestoreAfter is how long a ladder that shed its preset (and nothing more) must keep
	// up, the host's frames waiting under a quarter of OverloadLag, before ffmpeg is
	// restarted with the configured preset again, as seamlessly as a shed (a try: it sheds
	// again if the machine still cannot carry it, and the lighter process goes on if the
	// new one fails to start or ends before it takes over); doubled after each try, up to
	// an hour (a longer setting is kept), so a machine that stays short of CPU is not asked
	// every few minutes. A dropped rung is not taken back: its layer left the stage. 0: 2m;
	// negative: never (a shed holds for the host session's life).
	RestoreAfter time.Duration `yaml:"restore_after"`
}

// MaxAccessUnitBytes is the largest access unit WriteH264 and WriteAAC accept. A 4K intra
// frame at a high bitrate is a few MiB; anything bigger is a broken or hostile host, and
// queueing it would only hold memory ffmpeg cannot use in time.
const MaxAccessUnitBytes = 8 << 20

// DefaultConfig returns the settings `glint serve` starts with: every default filled in.
func DefaultConfig() Config { return Config{}.Defaults() }

// Defaults fills every zero field, so a partly set Config (or the zero value) is usable.
func (c Config) Defaults() Config {
	if c.Ladder == nil {
		c.Ladder = DefaultLadder
	}
	if c.Passthrough == "" {
		c.Passthrough = PassthroughAuto
	}
	if c.Preset == "" {
		c.Preset = "veryfast"
	}
	if c.GOP == 0 {
		c.GOP = time.Second
	}
	if c.AudioBitrate == 0 {
		c.AudioBitrate = 96_000
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 8 * time.Second
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = 5 * time.Second
	}
	if c.QueueFrames == 0 {
		c.QueueFrames = 256
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = 32 << 20
	}
	if c.OverloadLag == 0 {
		c.OverloadLag = time.Second
	}
	if c.RestoreAfter == 0 {
		c.RestoreAfter = 2 * time.Minute
	}
	return c
}

// x264Presets are the presets x264 knows; a typo must fail at start-up, not in every ffmpeg run.
var x264Presets = map[string]bool{
	"ultrafast": true, "superfast": true, "veryfast": true, "faster": true, "fast": true,
	"medium": true, "slow": true, "slower": true, "veryslow": true, "placebo": true,
}

// Validate checks a Config; zero fields stand for their defaults and are valid.
func (c Config) Validate() error {
	c = c.Defaults()
	if len(c.Ladder) == 0 || len(c.Ladder) > 3 {
		return fmt.Errorf("%w: the ladder needs 1 to 3 renditions, has %d", ErrInvalidConfig, len(c.Ladder))
	}
	seen := map[string]bool{}
	for _, r := range c.Ladder {
		switch r.RID {
		case "f", "h", "q":
		default:
			return fmt.Errorf("%w: rendition rid %q is not f, h or q", ErrInvalidConfig, r.RID)
		}
		if seen[r.RID] {
			return fmt.Errorf("%w: rendition rid %q appears twice", ErrInvalidConfig, r.RID)
		}
		seen[r.RID] = true
		if r.Height < 16 || r.Height > 4320 {
			return fmt.Errorf("%w: rendition %q height %d is outside 16..4320", ErrInvalidConfig, r.RID, r.Height)
		}
		if r.Bitrate < 50_000 {
			return fmt.Errorf("%w: rendition %q bitrate %d is below 50 kbit/s", ErrInvalidConfig, r.RID, r.Bitrate)
		}
	}
	switch c.Passthrough {
	case PassthroughAuto, PassthroughNever:
	default:
		return fmt.Errorf("%w: passthrough %q is not auto or never", ErrInvalidConfig, c.Passthrough)
	}
	if !x264Presets[c.Preset] {
		return fmt.Errorf("%w: unknown x264 preset %q", ErrInvalidConfig, c.Preset)
	}
	if c.GOP < 100*time.Millisecond || c.GOP > 10*time.Second {
		return fmt.Errorf("%w: gop %v is outside 100ms..10s", ErrInvalidConfig, c.GOP)
	}
	if c.AudioBitrate < 6_000 || c.AudioBitrate > 510_000 {
		return fmt.Errorf("%w: opus bitrate %d is outside 6000..510000", ErrInvalidConfig, c.AudioBitrate)
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		return fmt.Errorf("%w: back-off %v..%v", ErrInvalidConfig, c.MinBackoff, c.MaxBackoff)
	}
	if c.StallTimeout < time.Second {
		return fmt.Errorf("%w: stall timeout %v is under 1s: ffmpeg needs time to start", ErrInvalidConfig, c.StallTimeout)
	}
	if c.QueueFrames < 16 {
		return fmt.Errorf("%w: queue of %d frames is too short", ErrInvalidConfig, c.QueueFrames)
	}
	if c.OverloadLag > 0 && c.OverloadLag < 200*time.Millisecond {
		return fmt.Errorf("%w: overload lag %v is under 200ms: ffmpeg's own buffering is about that", ErrInvalidConfig, c.OverloadLag)
	}
	if c.RestoreAfter > 0 && c.RestoreAfter < time.Second {
		return fmt.Errorf("%w: restore_after %v is under 1s: a ladder would take work back before it could show it keeps up", ErrInvalidConfig, c.RestoreAfter)
	}
	if c.QueueBytes < MaxAccessUnitBytes {
		return fmt.Errorf("%w: queue of %d bytes cannot hold the largest access unit (%d bytes)", ErrInvalidConfig, c.QueueBytes, MaxAccessUnitBytes)
	}
	return nil
}
