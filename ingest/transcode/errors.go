package transcode

import "errors"

var (
	// ErrNoFFmpeg: no usable ffmpeg binary. RTMP ingest refuses publishes with it; the rest
	// of the server keeps working.
	ErrNoFFmpeg = errors.New("transcode: ffmpeg not found (install it: apt-get install ffmpeg)")
	// ErrMissingEncoder: ffmpeg runs but lacks libx264 or libopus.
	ErrMissingEncoder = errors.New("transcode: ffmpeg lacks a required encoder (Debian's ffmpeg package has both: apt-get install ffmpeg)")
	// ErrClosed: the Ladder was closed.
	ErrClosed = errors.New("transcode: ladder closed")
	// ErrInvalidConfig wraps what Config.Validate finds.
	ErrInvalidConfig = errors.New("transcode: invalid config")
	// ErrAccessUnitTooLarge: WriteH264 or WriteAAC got more than MaxAccessUnitBytes at once.
	ErrAccessUnitTooLarge = errors.New("transcode: access unit too large")
	// ErrInvalidSource: the Source cannot be transcoded (no tracks, no size).
	ErrInvalidSource = errors.New("transcode: invalid source")
)
