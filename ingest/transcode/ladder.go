package transcode

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// Track is one output of the ladder, ready for sfu.Room.Publish (sfu.PublishedTrack{Source:
// t.Source, RID: t.RID, Codec: t.Codec, Kind: t.Kind, SSRC: t.SSRC}).
type Track struct {
	RID           string // "" for audio and for passthrough's single video layer
	Kind          webrtc.RTPCodecType
	Codec         webrtc.RTPCodecParameters // from sfu.IngestCodec
	SSRC          uint32                    // fixed across ffmpeg restarts
	Width, Height int                       // video only
	Source        sfu.TrackSource           // RTP packets; io.EOF after Close
}

// Ladder is one host session's transcoding: its Tracks are fixed for its life.
type Ladder struct {
	log         *zap.Logger
	tracks      []Track
	outputs     []*output // ffmpeg's outputs, by track (nil for passthrough video)
	sources     []*queueSource
	passthrough *passthrough // nil when the video is transcoded
	in          *input       // nil when no ffmpeg runs (passthrough without audio)
	sup         *supervisor  // nil when no ffmpeg runs

	done      chan struct{} // closed by Close: the sources' end of stream
	closeOnce sync.Once
	// stopCtx unregisters the context's Close. Only the exported Close reads it, which a caller
	// can only call once Start has returned; the context itself runs shutdown, which does not
	// read it, so a context cancelled during Start cannot race the assignment.
	stopCtx func() bool
	readers sync.WaitGroup
}

// Start runs ffmpeg for one host session. The returned Ladder's Tracks are fixed for its
// life. Cancelling ctx closes the Ladder as Close does; a ctx cancelled before or during
// Start makes Start fail with ctx's error and leave nothing running.
func Start(ctx context.Context, cfg Config, src Source, log *zap.Logger) (*Ladder, error) {
	// A publish that ended while it was being probed must not spawn ffmpeg only to kill it.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("transcode: start: %w", err)
	}
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := validateSource(src); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	l := &Ladder{log: log.Named("transcode"), done: make(chan struct{})}
	pass := wantPassthrough(cfg, src)
	var aac mpeg4audio.AudioSpecificConfig
	if src.HasAudio {
		if err := aac.Unmarshal(src.AudioConfig); err != nil {
			return nil, fmt.Errorf("%w: AAC config: %w", ErrInvalidSource, err)
		}
	}
	transcodeVideo := src.HasVideo && !pass
	needFFmpeg := transcodeVideo || src.HasAudio
	var ffmpeg string
	if needFFmpeg {
		var err error
		if ffmpeg, err = lookFFmpeg(cfg.FFmpeg); err != nil {
			return nil, err
		}
	}
	job := jobArgs{Cfg: cfg, FPS: src.FPS}
	if transcodeVideo {
		job.Rungs = selectRungs(cfg.Ladder, src.Width, src.Height)
	}
	if err := l.buildTracks(src, pass, job.Rungs); err != nil {
		l.closeOutputs()
		return nil, err
	}
	if needFFmpeg {
		l.in = newInput(transcodeVideo, src.HasAudio, aac, src.SPS, src.PPS, cfg.QueueFrames, cfg.QueueBytes)
		// Open the first process's stream now: the host's first keyframe may arrive before
		// the supervisor has run, and without a stream it would be dropped, holding the
		// ladder's first picture back a whole source GOP.
		if _, _, err := l.in.restart(1, false, false); err != nil {
			l.closeOutputs()
			return nil, err
		}
		l.sup = &supervisor{
			ffmpeg: ffmpeg, job: job, in: l.in, log: l.log,
			minBackoff: cfg.MinBackoff, maxBackoff: cfg.MaxBackoff, stallTimeout: cfg.StallTimeout,
			overloadLag: cfg.OverloadLag, videoOutputs: len(job.Rungs),
			shed: shedState{restoreAfter: cfg.RestoreAfter}, takeover: defaultLead,
			stop: make(chan struct{}), done: make(chan struct{}),
		}
		for _, o := range l.outputs {
			if o != nil {
				o.activity = &l.sup.activity
				l.sup.outputs = append(l.sup.outputs, o)
			}
		}
		for _, o := range l.sup.outputs {
			l.readers.Add(2)
			go func() { defer l.readers.Done(); o.readRTP() }()
			go func() { defer l.readers.Done(); o.readRTCP() }()
		}
		go l.sup.run()
	}
	if pass {
		laddersPassthru.Inc()
	} else {
		laddersLadder.Inc()
	}
	// Every field is set before the context can run shutdown: AfterFunc may run it at once.
	l.stopCtx = context.AfterFunc(ctx, l.shutdown)
	if err := ctx.Err(); err != nil {
		// Cancelled after the check above: the context has closed, or is closing, the Ladder;
		// Close waits for that, so nothing is left running when Start reports the error.
		l.Close()
		return nil, fmt.Errorf("transcode: start: %w", err)
	}
	l.log.Info("transcoding started", zap.Bool("passthrough", pass), zap.Int("renditions", len(job.Rungs)),
		zap.Bool("audio", src.HasAudio), zap.Int("width", src.Width), zap.Int("height", src.Height))
	return l, nil
}

func validateSource(src Source) error {
	if !src.HasVideo && !src.HasAudio {
		return fmt.Errorf("%w: neither video nor audio", ErrInvalidSource)
	}
	if src.HasVideo && (src.Width < 16 || src.Height < 16 || src.Width > 8192 || src.Height > 8192) {
		return fmt.Errorf("%w: video size %dx%d", ErrInvalidSource, src.Width, src.Height)
	}
	if src.HasAudio && len(src.AudioConfig) == 0 {
		return fmt.Errorf("%w: audio without an AAC config", ErrInvalidSource)
	}
	return nil
}

// wantPassthrough: the source video can be forwarded as it is when allowed, free of
// B-frames, and of a profile viewers can be offered (High 4:4:4, say, cannot).
func wantPassthrough(cfg Config, src Source) bool {
	if cfg.Passthrough != PassthroughAuto || !src.HasVideo || src.BFrames {
		return false
	}
	_, ok := sfu.IngestCodec(webrtc.MimeTypeH264, offeredProfile(src.ProfileLevelID))
	return ok
}

// offeredProfile maps a stream's profile-level-id onto the form the SFU offers viewers, whose
// constraint flags differ from what encoders write: x264's constrained baseline is 42c0xx,
// browsers' 42e0xx; both have constraint_set1, which is what makes baseline decodable by
// every browser. Main and High are offered without flags. Anything else is left alone, and
// the SFU then refuses it (High 10, 4:2:2, 4:4:4: no browser decodes them).
func offeredProfile(plid string) string {
	if len(plid) != 6 {
		return plid
	}
	flags, err := strconv.ParseUint(plid[2:4], 16, 8)
	if err != nil {
		return plid
	}
	level := plid[4:]
	switch strings.ToLower(plid[:2]) {
	case "42":
		if flags&0x40 != 0 {
			return "42e0" + level
		}
		return "4200" + level
	case "4d":
		return "4d00" + level
	case "64":
		return "6400" + level
	}
	return plid
}

// buildTracks makes the sockets and sources of every Track: video renditions tallest first
// (f before h before q), then audio.
func (l *Ladder) buildTracks(src Source, pass bool, rungs []rung) error {
	ssrcs := map[uint32]bool{0: true}
	newSSRC := func() uint32 {
		for {
			if s := rand.Uint32(); !ssrcs[s] {
				ssrcs[s] = true
				return s
			}
		}
	}
	if pass {
		codec, _ := sfu.IngestCodec(webrtc.MimeTypeH264, offeredProfile(src.ProfileLevelID))
		q := newQueueSource(videoQueuePackets, l.done)
		ssrc := newSSRC()
		l.passthrough = newPassthrough(ssrc, uint8(codec.PayloadType), q, src.SPS, src.PPS)
		l.add(Track{Kind: webrtc.RTPCodecTypeVideo, Codec: codec, SSRC: ssrc, Width: src.Width, Height: src.Height, Source: q}, q, nil)
	}
	if len(rungs) > 0 {
		// The ladder's own encoder makes constrained baseline, whatever the source was.
		codec, ok := sfu.IngestCodec(webrtc.MimeTypeH264, "42e01f")
		if !ok {
			return fmt.Errorf("transcode: the SFU offers no constrained-baseline H.264")
		}
		for _, r := range rungs {
			if err := l.addOutput(Track{RID: r.RID, Kind: webrtc.RTPCodecTypeVideo, Codec: codec, SSRC: newSSRC(), Width: r.Width, Height: r.Height}, videoQueuePackets); err != nil {
				return err
			}
		}
	}
	if src.HasAudio {
		codec, ok := sfu.IngestCodec(webrtc.MimeTypeOpus, "")
		if !ok {
			return fmt.Errorf("transcode: the SFU offers no Opus")
		}
		if err := l.addOutput(Track{Kind: webrtc.RTPCodecTypeAudio, Codec: codec, SSRC: newSSRC()}, audioQueuePackets); err != nil {
			return err
		}
	}
	return nil
}

func (l *Ladder) addOutput(t Track, queue int) error {
	q := newQueueSource(queue, l.done)
	o, err := newOutput(t.SSRC, uint8(t.Codec.PayloadType), t.Codec.ClockRate, q, nil)
	if err != nil {
		return err
	}
	t.Source = q
	l.add(t, q, o)
	return nil
}

func (l *Ladder) add(t Track, q *queueSource, o *output) {
	l.tracks = append(l.tracks, t)
	l.sources = append(l.sources, q)
	l.outputs = append(l.outputs, o)
}

// Tracks returns the Ladder's outputs: video renditions tallest first, then audio. A rung shed
// because ffmpeg could not keep up (shed.go) ends its Source before the others.
func (l *Ladder) Tracks() []Track { return append([]Track(nil), l.tracks...) }

// Passthrough reports whether the video is forwarded without re-encoding.
func (l *Ladder) Passthrough() bool { return l.passthrough != nil }

// OnShed registers f for each step the ladder takes to keep up with its host (a faster
// preset, a rung dropped: shed.go) and for its taking the preset back (Kind "restore"),
// so the host's viewers can be told. A ladder without ffmpeg never sheds. f runs on the supervisor's goroutine; it must not block.
func (l *Ladder) OnShed(f func(Shed)) {
	if l.sup != nil {
		l.sup.onShed.Store(&f)
	}
}

// OnSenderReport registers f for the RTCP sender reports of the Track with this SSRC (from
// ffmpeg, or made here for passthrough video), their RTP times in the Track's own timeline.
// Wire it to the Track's sfu.Receiver.OnSenderReport so the room keeps a media clock and
// viewers lip-sync. f runs on an internal goroutine; it must not block.
func (l *Ladder) OnSenderReport(ssrc uint32, f func(*rtcp.SenderReport)) {
	for i, t := range l.tracks {
		if t.SSRC != ssrc {
			continue
		}
		if o := l.outputs[i]; o != nil {
			o.onSR.Store(&f)
		} else if l.passthrough != nil {
			l.passthrough.setOnSR(f)
		}
	}
}

// WriteH264 takes one access unit (NAL units without start codes) with its presentation and
// decode times from the start of the stream. It never blocks for long: if ffmpeg falls behind,
// input is dropped (counted in metrics) until the next keyframe. An access unit over
// MaxAccessUnitBytes is refused with ErrAccessUnitTooLarge.
func (l *Ladder) WriteH264(pts, dts time.Duration, au [][]byte) error {
	n := 0
	for _, nalu := range au {
		n += len(nalu)
	}
	if n > MaxAccessUnitBytes {
		return fmt.Errorf("%w: H.264 access unit of %d bytes, the limit is %d", ErrAccessUnitTooLarge, n, MaxAccessUnitBytes)
	}
	if l.passthrough != nil {
		select {
		case <-l.done:
			return ErrClosed
		default:
		}
		l.passthrough.write(dts, au)
		return nil
	}
	if l.in == nil {
		return nil
	}
	return l.in.writeH264(pts, dts, au)
}

// WriteAAC takes one AAC access unit (raw, no ADTS) with its presentation time. An access
// unit over MaxAccessUnitBytes is refused with ErrAccessUnitTooLarge.
func (l *Ladder) WriteAAC(pts time.Duration, au []byte) error {
	if len(au) > MaxAccessUnitBytes {
		return fmt.Errorf("%w: AAC access unit of %d bytes, the limit is %d", ErrAccessUnitTooLarge, len(au), MaxAccessUnitBytes)
	}
	if l.in == nil {
		return nil
	}
	return l.in.writeAAC(pts, au)
}

// FFmpegPID returns the pid of the running ffmpeg, 0 when none runs (between restarts, or
// in passthrough without audio). For diagnostics and tests.
func (l *Ladder) FFmpegPID() int {
	if l.sup == nil {
		return 0
	}
	return int(l.sup.pid.Load())
}

// Close stops ffmpeg (the whole process group), ends the Tracks' sources, waits for its
// goroutines; safe to call twice.
func (l *Ladder) Close() error {
	l.stopCtx() // the context no longer needs to close us
	l.shutdown()
	return nil
}

// shutdown is Close without unregistering the context's callback, which is what the context
// runs: it may run before Start has stored stopCtx.
func (l *Ladder) shutdown() {
	l.closeOnce.Do(func() {
		close(l.done)
		if l.passthrough != nil {
			l.passthrough.close()
		}
		if l.in != nil {
			l.in.close()
		}
		if l.sup != nil {
			close(l.sup.stop)
			<-l.sup.done
		}
		l.closeOutputs()
		l.readers.Wait()
		for _, q := range l.sources {
			q.drain()
		}
		if l.passthrough != nil {
			laddersPassthru.Dec()
		} else {
			laddersLadder.Dec()
		}
		l.log.Info("transcoding stopped")
	})
}

func (l *Ladder) closeOutputs() {
	for _, o := range l.outputs {
		if o != nil {
			o.close()
		}
	}
}

// lookFFmpeg resolves the configured ffmpeg ("" is "ffmpeg" on PATH).
func lookFFmpeg(name string) (string, error) {
	if name == "" {
		name = "ffmpeg"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrNoFFmpeg, name, err)
	}
	return path, nil
}
