package rtmp

import (
	"context"
	"time"

	"github.com/pion/rtcp"
	"go.uber.org/zap"

	"github.com/glintlive/glint/ingest/transcode"
	"github.com/glintlive/glint/sfu"
)

// FFmpegLadder is the StartLadder of a real server: ingest/transcode's supervised ffmpeg
// (or its in-process passthrough) with cfg.
func FFmpegLadder(cfg transcode.Config) StartLadder {
	return func(ctx context.Context, src Source, log *zap.Logger) (Ladder, error) {
		l, err := transcode.Start(ctx, cfg, src, log)
		if err != nil {
			return nil, err
		}
		return ffmpegLadder{l}, nil
	}
}

// ffmpegLadder adapts *transcode.Ladder to Ladder.
type ffmpegLadder struct{ l *transcode.Ladder }

var _ Ladder = ffmpegLadder{}

func (f ffmpegLadder) Tracks() []sfu.PublishedTrack {
	var out []sfu.PublishedTrack
	for _, t := range f.l.Tracks() {
		out = append(out, sfu.PublishedTrack{Source: t.Source, RID: t.RID, Codec: t.Codec, Kind: t.Kind, SSRC: t.SSRC})
	}
	return out
}

func (f ffmpegLadder) Passthrough() bool { return f.l.Passthrough() }

func (f ffmpegLadder) WriteH264(pts, dts time.Duration, au [][]byte) error {
	return f.l.WriteH264(pts, dts, au)
}

func (f ffmpegLadder) WriteAAC(pts time.Duration, au []byte) error { return f.l.WriteAAC(pts, au) }

func (f ffmpegLadder) OnSenderReport(ssrc uint32, fn func(*rtcp.SenderReport)) {
	f.l.OnSenderReport(ssrc, fn)
}

func (f ffmpegLadder) OnShed(fn func(what string, reduced bool)) {
	f.l.OnShed(func(s transcode.Shed) { fn(s.What, s.Reduced()) })
}

func (f ffmpegLadder) Close() error { return f.l.Close() }
