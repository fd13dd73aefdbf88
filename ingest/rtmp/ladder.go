package rtmp

import (
	"context"
	"time"

	"github.com/pion/rtcp"

	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// Ladder is a running transcoder for one host session: it takes the host's H.264 and AAC
// and produces the tracks the room's stage gets (1-3 H.264 simulcast layers and Opus).
// ingest/transcode's ffmpeg ladder is the real one; tests substitute their own.
type Ladder interface {
	// Tracks are the outputs, fixed for the ladder's life, ready for sfu.Room.Publish.
	// Their sources end (io.EOF) once Close is called, or one alone earlier: a rung the
	// ladder shed because it could not keep up with the host.
	Tracks() []sfu.PublishedTrack
	// Passthrough reports that the video is forwarded without re-encoding.
	Passthrough() bool
	// WriteH264 takes one access unit (NAL units without start codes) with its times
	// from the start of the stream. It must not block for long.
	WriteH264(pts, dts time.Duration, au [][]byte) error
	// WriteAAC takes one raw AAC access unit with its time from the start of the stream.
	WriteAAC(pts time.Duration, au []byte) error
	// OnSenderReport registers f for the RTCP sender reports of the track with this SSRC,
	// so the room's media clock and the viewers' lip sync work as for a WebRTC host.
	OnSenderReport(ssrc uint32, f func(*rtcp.SenderReport))
	// OnShed registers f for each step the ladder takes to keep up with the host (a faster
	// preset, its top rung dropped) or back (its preset again), what it did said for
	// people, so the viewers can be told; reduced is whether it still does less than it
	// was configured to. f must not block.
	OnShed(f func(what string, reduced bool))
	// Close stops the transcoder and waits for it; safe to call twice and concurrently
	// with the writes.
	Close() error
}

// StartLadder starts a transcoder for a probed stream. ctx ends when the host session
// ends or the server shuts down.
type StartLadder func(ctx context.Context, src Source, log *zap.Logger) (Ladder, error)
