package llhls

import (
	"bytes"
	"context"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// numLayers is q, h, f.
const numLayers = 3

// stream is one room muxed to LL-HLS. Its goroutine (run) owns everything but the
// variants' snapshots and object caches, which HTTP handlers read.
type stream struct {
	name    string
	room    *sfu.Room
	cfg     Config
	log     *zap.Logger
	q       *queue
	done    chan struct{}
	stopped sync.Once
	exited  chan struct{}
	lastUse atomic.Int64 // unix nanos of the last request's end
	busy    atomic.Int32 // requests in flight: one waiting for the stream to start keeps it

	variants [numLayers]atomic.Pointer[variant]
	// restartingUntil (unix nanos) is set when a layer's variant restarts: until then a
	// request for its playlist waits for the next variant, which goes on from the same media
	// sequence (continuity), instead of failing. A deadline, not a flag: a layer that never
	// comes back is not waited for after it.
	restartingUntil [numLayers]atomic.Int64
	edge            edge // wakes blocking requests when any playlist changes
	events          eventLog

	// owned by run
	epoch     time.Time
	haveEpoch bool
	epochAt   time.Time // when the epoch was taken, on this machine's clock
	audioFrom time.Time // when the variants' audio began to be decided: waitForAudio counts from it
	layers    [numLayers]layerState
	audio     struct {
		src    *sfu.Receiver    // the stage's Opus being muxed, or
		source *sfu.SourceAudio // the host's own AAC being muxed (stream_source.go)
		match  struct {         // whether a source audio's AAC is what the variants declared (sourceAAC)
			source   *sfu.SourceAudio
			declared *mpeg4audio.AudioSpecificConfig
			same     bool
		}
		clock sourceClock
		at    int64 // the newest audio packet's timestamp at 90 kHz (see holdback.go)
		seen  bool  // at is set
	}
	vp        vp8State // a VP8 host's top layer, through ffmpeg (stream_vp8.go)
	aac       aacState // the room's Opus as AAC, through ffmpeg (stream_aac.go)
	pkt       rtp.Packet
	warnedGOP bool
}

// layerState is one video layer on its way to a variant.
type layerState struct {
	src       *sfu.Receiver
	asm       *auAssembler
	clock     sourceClock
	cad       cadence
	pending   []pendingAU // from the first keyframe until the frame rate is known
	hold      holdback    // frames of the running variant waiting for audio
	grid      partGrid    // where the running variant's parts are cut
	lastIDR   int64
	lastPLI   time.Time
	goneSince time.Time
	// transcoded: the frames come from ffmpeg (a VP8 host), which makes a keyframe every
	// segment; keyframe requests to the host are stream_vp8.go's business.
	transcoded bool
	// cont is where the layer's next variant takes up its playlists (after a restart).
	cont continuity
}

type pendingAU struct {
	ntp  time.Time
	pts  int64
	au   [][]byte
	size int
}

func newStream(name string, room *sfu.Room, cfg Config, log *zap.Logger) *stream {
	s := &stream{
		name: name, room: room, cfg: cfg, log: log.With(zap.String("room", name)),
		q: newQueue(cfg.QueuePackets), done: make(chan struct{}), exited: make(chan struct{}),
	}
	s.edge.init()
	s.touch()
	return s
}

func (s *stream) touch() { s.lastUse.Store(time.Now().UnixNano()) }

// enter marks a request in flight; leave ends it. A stream is idle only when no request
// is in flight and the last one ended IdleTimeout ago: a viewer waiting (up to StartTimeout)
// for a slow-starting stream must not see it reaped under it.
func (s *stream) enter() { s.busy.Add(1); s.touch() }
func (s *stream) leave() { s.touch(); s.busy.Add(-1) }

// idle reports whether nobody used the stream for timeout.
func (s *stream) idle(now time.Time, timeout time.Duration) bool {
	return s.busy.Load() == 0 && now.Sub(time.Unix(0, s.lastUse.Load())) > timeout
}

// start subscribes to the room's tracks and runs the muxing goroutine.
func (s *stream) start() {
	s.room.Track(webrtc.RTPCodecTypeVideo).AddReader(s.q)
	s.room.Track(webrtc.RTPCodecTypeAudio).AddReader(s.q)
	s.room.AddSourceAudioReader(s.q)
	streamsActive.Inc()
	go s.run()
}

// stop ends the stream: requests waiting on it get ErrClosed; it waits for run to exit.
func (s *stream) stop() {
	s.stopped.Do(func() { close(s.done) })
	<-s.exited
}

func (s *stream) stopping() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *stream) run() {
	defer close(s.exited)
	defer streamsActive.Dec()
	defer func() {
		s.room.Track(webrtc.RTPCodecTypeVideo).RemoveReader(s.q)
		s.room.Track(webrtc.RTPCodecTypeAudio).RemoveReader(s.q)
		s.room.RemoveSourceAudioReader(s.q)
		s.stopTranscoder()
		s.aac.stop()
		for l := range s.variants {
			if v := s.variants[l].Swap(nil); v != nil {
				v.close()
			}
		}
		s.edge.close()
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case p := <-s.q.work:
			s.handle(p)
			s.q.release(p)
		case t, ok := <-s.vp.output():
			s.handleTranscoded(t, ok)
		case t, ok := <-s.aac.output():
			s.handleAAC(t, ok)
		case now := <-tick.C:
			s.housekeep(now)
		}
	}
}

// housekeep drops variants whose layer stopped and picks a VP8 host's layer to transcode.
func (s *stream) housekeep(now time.Time) {
	video := s.room.Track(webrtc.RTPCodecTypeVideo)
	if s.vp.src != nil {
		s.vp.pickTop(now)
	}
	for l := range s.layers {
		ls := &s.layers[l]
		if video.Layer(l) != nil {
			ls.goneSince = time.Time{}
			continue
		}
		if ls.goneSince.IsZero() {
			ls.goneSince = now
		} else if now.Sub(ls.goneSince) > 5*time.Second && s.variants[l].Load() != nil {
			s.dropVariant(l, whyLayerStopped)
		}
	}
}

func (s *stream) handle(p *packet) {
	if p.audio != nil {
		s.handleSourceAudio(p)
		return
	}
	if err := s.pkt.Unmarshal(p.buf[:p.n]); err != nil {
		return
	}
	mime := p.src.Codec().MimeType
	switch {
	case strings.EqualFold(mime, webrtc.MimeTypeOpus):
		s.handleAudio(p.src)
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
		s.handleVideo(p.src, p.keyframe)
	case strings.EqualFold(mime, webrtc.MimeTypeVP8) && s.cfg.FFmpeg != "":
		s.handleVP8(p.src, p.keyframe)
	}
}

func (s *stream) handleAudio(src *sfu.Receiver) {
	if !s.haveEpoch || len(s.pkt.Payload) == 0 {
		return
	}
	if s.sourceAAC() != nil {
		return // the host's own AAC is muxed instead (stream_source.go)
	}
	if s.aac.config != nil && !s.aac.fallback && !s.opusToDeclaredAAC(src) {
		return // AAC variants that this Opus cannot become (opusToDeclaredAAC)
	}
	a := &s.audio
	if a.src != src || !a.clock.started {
		capture, ok := src.CaptureTime(s.pkt.Timestamp)
		if !ok {
			return
		}
		if a.src != nil && a.src != src {
			s.restartAAC() // a new source: new RTP timestamps, which this ffmpeg's timeline cannot take
		}
		a.src, a.source = src, nil
		a.clock.start(s.pkt.Timestamp, capture, s.epoch, src.ClockRate())
		s.askWaitingLayers(time.Now())
	}
	if s.aacMode() {
		s.pushAAC(time.Now())
		return
	}
	s.writeAudio(s.pkt.Timestamp, s.pkt.Payload)
}

// writeAudio muxes one audio frame (the host's Opus, or AAC from ffmpeg) dated by its
// RTP timestamp, then the video frames held for it.
func (s *stream) writeAudio(ts uint32, payload []byte) {
	a := &s.audio
	pts := a.clock.pts(ts)
	ntp := s.epoch.Add(ticksToDuration(pts, a.clock.rate))
	for l := range s.variants {
		if v := s.variants[l].Load(); v != nil {
			if err := v.writeAudio(ntp, pts, payload); err != nil {
				s.log.Debug("LL-HLS audio", zap.Error(err))
			}
		}
	}
	a.at, a.seen = pts*90000/a.clock.rate, true
	now := time.Now()
	for l := range s.layers {
		s.release(l, now)
	}
}

func (s *stream) handleVideo(src *sfu.Receiver, keyframe bool) {
	l := src.Layer()
	ls := &s.layers[l]
	if ls.src != src {
		if ls.src != nil {
			s.dropVariant(l, "host republished")
		}
		*ls = layerState{src: src, asm: newAUAssembler(), cont: ls.cont} // the playlists go on (continuity)
	}
	before := ls.asm.dropped
	au, ts, _ := ls.asm.push(&s.pkt, keyframe)
	if ls.asm.dropped != before {
		framesDropped.Add(float64(ls.asm.dropped - before))
	}
	if ls.asm.needIDR {
		s.askKeyframe(ls, time.Now())
	}
	if au == nil {
		return
	}
	s.handleAU(l, ls, au, ts)
}

// handleAU puts one H.264 access unit of layer l (the host's own, or ffmpeg's from a VP8
// host) on the media clock and on its way to the layer's variant.
func (s *stream) handleAU(l int, ls *layerState, au [][]byte, ts uint32) {
	src := ls.src
	capture, ok := src.CaptureTime(ts)
	if !ok {
		return // no sender report yet: nothing to put the frame on the media clock with
	}
	idr := hasNALU(au, 5)
	if !ls.clock.started && !idr {
		// The layer starts at a keyframe; the one it saw may have come before the host's
		// first sender report, and a browser's encoder sends no other unless asked.
		s.askKeyframe(ls, time.Now())
		return
	}
	if !s.haveEpoch {
		s.epoch, s.haveEpoch, s.epochAt = capture, true, time.Now()
		s.audioFrom = s.epochAt
	}
	if !ls.clock.started {
		ls.clock.start(ts, capture, s.epoch, 90000)
	}
	pts := ls.cad.next(ls.clock.pts(ts), &ls.grid)
	ntp := s.epoch.Add(ticksToDuration(pts, 90000))
	size := 0
	for _, n := range au {
		size += len(n)
	}
	if idr {
		ls.lastIDR = pts
	} else if pts-ls.lastIDR > durationToTicks(s.cfg.SegmentDuration, 90000) {
		s.askKeyframe(ls, time.Now())
	}
	v := s.variants[l].Load()
	if v != nil && idr {
		if sps := findNALU(au, 7); sps != nil && !bytes.Equal(sps, v.sps) {
			s.dropVariant(l, whyNewParameters)
			v = nil
		}
	}
	if v == nil {
		s.startVariant(l, ls, ntp, pts, au, size, idr)
		return
	}
	ls.grid.advance(pts, idr)
	s.holdFrame(l, ntp, pts, au, size)
}

// holdFrame queues a frame of layer l's running variant until the audio reaches it
// (holdback.go), then muxes what is due.
func (s *stream) holdFrame(l int, ntp time.Time, pts int64, au [][]byte, size int) {
	now := time.Now()
	h := &s.layers[l].hold
	if h.len() == holdCap {
		s.writeFront(l)
	}
	h.push(ntp, pts, au, size, now)
	s.release(l, now)
}

// release muxes layer l's held frames that the audio has reached, that have waited
// audioHold, or that have no audio to wait for.
func (s *stream) release(l int, now time.Time) {
	h := &s.layers[l].hold
	v := s.variants[l].Load()
	if v == nil {
		h.reset()
		return
	}
	for h.len() > 0 {
		f := h.front()
		if v.audio != nil && !(s.audio.seen && s.audio.at >= f.pts) && now.Sub(f.arrived) < v.audioHold() {
			return
		}
		s.writeFront(l)
	}
}

func (s *stream) writeFront(l int) {
	h := &s.layers[l].hold
	if v := s.variants[l].Load(); v != nil {
		f := h.front()
		s.write(v, f.ntp, f.pts, f.au, f.size)
	}
	h.pop()
}

// startVariant holds a layer's frames from its first keyframe until the frame rate is known
// (variantCanStart: the part length depends on it), then starts its muxer with them. While the room's audio
// cannot be put on the media clock yet (waitForAudio) it holds nothing.
func (s *stream) startVariant(l int, ls *layerState, ntp time.Time, pts int64, au [][]byte, size int, idr bool) {
	hasAudio := s.room.Track(webrtc.RTPCodecTypeAudio).Receiver() != nil // asked once: both below must agree
	if s.waitForAudio(time.Now(), hasAudio) {
		ls.pending = nil
		return
	}
	if len(ls.pending) == 0 && !idr {
		return
	}
	ls.pending = append(ls.pending, pendingAU{ntp: ntp, pts: pts, au: cloneAU(au), size: size})
	if !variantCanStart(&ls.cad, len(ls.pending), pts-ls.pending[0].pts) {
		return
	}
	first := ls.pending[0].au
	sps, pps := findNALU(first, 7), findNALU(first, 8)
	if sps == nil || pps == nil {
		ls.pending = nil // a keyframe without parameter sets: wait for the next
		return
	}
	v, err := newVariant(s.cfg, l, sps, pps, ls.cad.frame, s.audioCodec(hasAudio), s.log.With(zap.String("layer", sfu.LayerName(l))))
	if err != nil {
		s.log.Warn("LL-HLS variant", zap.Error(err))
		ls.pending = nil
		return
	}
	v.cont = ls.cont
	v.tail.Store(ls.cont.tail)
	ls.cont.tail = nil // the variant holds it while its playlists list it, no longer
	s.variants[l].Store(v)
	regrid(ls.pending, ls.cad.frame, s.epoch)
	ls.grid = newPartGrid(v.partMin, s.cfg.PartTarget, s.cfg.SegmentDuration)
	for _, p := range ls.pending {
		ls.grid.advance(p.pts, hasNALU(p.au, 5))
		s.holdFrame(l, p.ntp, p.pts, p.au, p.size)
	}
	ls.pending = nil
	s.log.Info("LL-HLS variant started", zap.String("layer", v.name), zap.Int("width", v.width),
		zap.Int("height", v.height), zap.Float64("fps", v.frameRate))
}

// variantCanStart reports whether the frame rate is known well enough to fix the variant's
// part length, with frames held over span ticks (90 kHz): when it is a standard rate's, or
// an irregular source's over a second, or after 60 frames in any case. An early estimate
// from a jittery canvas (3075 ticks for 30 fps) gave five-frame parts for good.
func variantCanStart(c *cadence, frames int, span int64) bool {
	return c.snapped || c.frame != 0 && span >= 90000 || frames >= 60
}

// regrid puts the frames held before the frame rate was known (they kept their own,
// jittered timestamps) on the frame grid, counted back from the newest, whose timestamp the
// cadence continues from: the first part is whole frames too (it was 200.3 ms, longer
// than PART-TARGET). Frames that would collide are left as they were.
func regrid(pending []pendingAU, frame int64, epoch time.Time) {
	if frame <= 0 || len(pending) < 2 {
		return
	}
	last := pending[len(pending)-1].pts
	prev := int64(math.MinInt64)
	for _, p := range pending {
		q := last - (last-p.pts+frame/2)/frame*frame
		if q <= prev {
			return
		}
		prev = q
	}
	for i := range pending {
		p := &pending[i]
		p.pts = last - (last-p.pts+frame/2)/frame*frame
		p.ntp = epoch.Add(ticksToDuration(p.pts, 90000))
	}
}

// audioWait bounds how long a variant waits for the room's audio clock (waitForAudio): a host
// whose audio never gets a sender report is muxed without audio after it.
const audioWait = 3 * time.Second

// waitForAudio reports whether variants should not start yet because the room has audio that
// cannot be put on the media clock yet (no sender report for it so far). A WebRTC host's
// first audio report comes seconds after its first video one (Chromium: ~2 s in, then every
// 5 s), and audio before it is dropped; video muxed meanwhile would make parts with no audio,
// which hls.js cannot play through: "Found no media in audio part", then it seeks over a
// hole of a second or more, and a player that joins at the start of the stream stalls.
// So a variant starts at a keyframe after the audio clock (askWaitingLayers asks for one).
// With AAC it also waits (aacWait more) for ffmpeg's first AAC frame, which says the
// configuration the variants declare; without one by then (or without an audio clock) the
// stream stays Opus, since all of its variants declare the same audio.
func (s *stream) waitForAudio(now time.Time, hasAudio bool) bool {
	if !hasAudio {
		return false
	}
	needAAC := (s.aacMode() || s.sourceAAC() != nil) && s.aac.config == nil
	if s.audio.clock.started && !needAAC {
		return false
	}
	limit := audioWait
	if s.audio.clock.started {
		limit += aacWait
	}
	if now.Sub(s.audioFrom) < limit {
		return true
	}
	if needAAC {
		s.aac.fallback = true
		s.aac.stop()
		s.log.Warn("LL-HLS: no AAC (from ffmpeg, or the host's own) in time; this stream's audio is Opus")
	}
	return false
}

// aacWait is how long past the audio clock a stream waits for ffmpeg's first AAC frame.
const aacWait = 2 * time.Second

// audioCodec is what the variants declare for the room's audio (nil: no audio): AAC once
// ffmpeg said its configuration, else Opus (waitForAudio, told the same hasAudio, decided
// which before any variant).
func (s *stream) audioCodec(hasAudio bool) codecs.Codec {
	if !hasAudio {
		return nil
	}
	if s.aac.config != nil && !s.aac.fallback {
		return &codecs.MPEG4Audio{Config: *s.aac.config} // from ffmpeg, or the host's own
	}
	// Opus, for the stream's life: a later host's own AAC must not go into these variants,
	// nor change what the next ones declare under the same URLs.
	s.aac.fallback = true
	return &codecs.Opus{ChannelCount: 2}
}

// askWaitingLayers asks for a keyframe on every layer that has no variant yet, so that it
// starts soon after the audio clock did.
func (s *stream) askWaitingLayers(now time.Time) {
	for l := range s.layers {
		if ls := &s.layers[l]; ls.src != nil && s.variants[l].Load() == nil {
			s.askKeyframe(ls, now)
		}
	}
}

func (s *stream) write(v *variant, ntp time.Time, pts int64, au [][]byte, size int) {
	if err := v.writeVideo(ntp, pts, au, size); err != nil {
		s.log.Debug("LL-HLS video", zap.Error(err))
		return
	}
	before := v.snapshots()
	if v.render(s.reports, &s.events) {
		if v.snapshots() != before {
			s.rerenderAll() // every rendition report lists the new playlists from now on
		}
		s.edge.wake()
	}
}

// rerenderAll renders every variant again, for rendition reports that changed (a playlist
// appeared or a variant stopped) while the playlists themselves did not.
func (s *stream) rerenderAll() {
	for l := range s.variants {
		if o := s.variants[l].Load(); o != nil {
			clear(o.lastRaw)
			o.render(s.reports, &s.events)
		}
	}
}

// reports are the rendition reports for every playlist but self ("f/video1_stream.m3u8").
func (s *stream) reports(self string) []*playlist.MediaRenditionReport {
	var out []*playlist.MediaRenditionReport
	for l := numLayers - 1; l >= 0; l-- {
		v := s.variants[l].Load()
		if v == nil {
			continue
		}
		for _, file := range []string{videoPlaylist, audioPlaylist} {
			name := v.name + "/" + file
			snap := v.snapshot(file)
			if name == self || snap == nil {
				continue
			}
			last := snap.lastPart
			r := &playlist.MediaRenditionReport{URI: "../" + name, LastMSN: snap.msn}
			if last >= 0 {
				r.LastPart = &last
			}
			out = append(out, r)
		}
	}
	return out
}

func (s *stream) dropVariant(l int, why string) {
	if v := s.variants[l].Load(); v != nil {
		// Set before the variant goes, so no request in between finds neither.
		if next, ok := v.continuation(); ok && why != whyLayerStopped {
			s.layers[l].cont = next
			s.restartingUntil[l].Store(time.Now().Add(restartWait).UnixNano())
		} else {
			// A layer that stopped for good starts afresh if it comes back: nobody was
			// playing it meanwhile, and a first playlist has its GAP segments (iOS).
			s.layers[l].cont = continuity{}
		}
		s.variants[l].Store(nil)
		v.close()
		s.rerenderAll()
		muxerRestarts.Inc()
		s.log.Info("LL-HLS variant restarts", zap.String("layer", v.name), zap.String("why", why))
	}
	s.layers[l].pending = nil
	s.layers[l].hold.reset()
	s.layers[l].grid = partGrid{}
	s.edge.wake()
	if why != whyNewParameters { // the same host's new resolution: its audio is as it was
		s.redecideAudio()
	}
}

// restartWait bounds how long playlist requests wait for a restarting layer's next variant:
// a keyframe (asked for at once), its first segment (~1 s), and after a new host session
// its audio (up to audioWait + aacWait).
const restartWait = 10 * time.Second

// Why a variant is dropped, where it matters: its host's encoder changed resolution or
// codec parameters (a new SPS: the same host, the same audio), or the layer stopped
// (no next variant is coming soon).
const (
	whyNewParameters = "new resolution or codec parameters"
	whyLayerStopped  = "layer stopped"
)

// askKeyframe asks the host for a keyframe at most once a second; a host that cannot take
// requests (no RTCP path) is noted once.
func (s *stream) askKeyframe(ls *layerState, now time.Time) {
	if ls.transcoded || now.Sub(ls.lastPLI) < time.Second {
		return
	}
	ls.lastPLI = now
	if ls.src.CanRequestKeyframe() {
		ls.src.RequestKeyframe()
	} else if !s.warnedGOP {
		s.warnedGOP = true
		s.log.Info("the host takes no keyframe requests: LL-HLS segments follow its GOP",
			zap.Duration("segment_duration", s.cfg.SegmentDuration))
	}
}

// awaitLayers waits (until ctx ends) for every layer the host sends to have its variant,
// so a player's first multivariant playlist lists them all: layers start together, within
// a frame or two of each other.
func (s *stream) awaitLayers(ctx context.Context) {
	video := s.room.Track(webrtc.RTPCodecTypeVideo)
	for {
		wake := s.edge.wait()
		missing := false
		for l := range numLayers {
			if video.Layer(l) != nil && s.variant(l) == nil {
				missing = true
			}
		}
		if !missing || s.stopping() {
			return
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return
		}
	}
}

// awaitVariant is the layer's variant, waiting until limit for the one that takes over from
// a variant restarting, or for a new variant's first segment; nil if the layer has none by
// then (or none is coming).
func (s *stream) awaitVariant(ctx context.Context, l int, limit time.Duration) *variant {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		wake := s.edge.wait()
		if v := s.variant(l); v != nil {
			return v
		}
		// Waiting is worth it while the layer restarts or its variant waits for its first
		// segment (ready).
		restarting := time.Now().UnixNano() < s.restartingUntil[l].Load()
		if !restarting && s.variants[l].Load() == nil || s.stopping() {
			return nil
		}
		select {
		case <-wake:
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// variant returns the layer's variant, nil when it has none (yet).
func (s *stream) variant(l int) *variant {
	v := s.variants[l].Load()
	if v == nil || v.snapshot(videoPlaylist) == nil {
		return nil
	}
	return v
}

func hasNALU(au [][]byte, typ byte) bool { return findNALU(au, typ) != nil }

func findNALU(au [][]byte, typ byte) []byte {
	for _, n := range au {
		if len(n) > 0 && n[0]&0x1f == typ {
			return n
		}
	}
	return nil
}

func cloneAU(au [][]byte) [][]byte {
	out := make([][]byte, len(au))
	for i, n := range au {
		out[i] = bytes.Clone(n)
	}
	return out
}

// edge lets requests wait for the next playlist change without polling.
type edge struct {
	mu     sync.Mutex
	ch     chan struct{}
	closed bool
}

func (e *edge) init() { e.ch = make(chan struct{}) }

// wait returns a channel closed at the next change (or at once if the stream ended).
func (e *edge) wait() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ch
}

func (e *edge) wake() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	close(e.ch)
	e.ch = make(chan struct{})
}

func (e *edge) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.closed = true
		close(e.ch)
	}
}
