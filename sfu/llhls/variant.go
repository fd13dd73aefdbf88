package llhls

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecparams"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"go.uber.org/zap"
)

// Names of a variant's media playlists, as gohlslib names its streams (track index + 1).
const (
	videoPlaylist = "video1_stream.m3u8"
	audioPlaylist = "audio2_stream.m3u8"
)

// variant is one simulcast layer muxed to LL-HLS: a gohlslib Muxer with the layer's video
// and (when the host sends Opus) the room's audio as a rendition. Only the stream's
// goroutine writes to it; HTTP handlers read its snapshots and its object cache.
type variant struct {
	layer      int
	name       string // "q", "h", "f"
	cfg        Config
	partTarget time.Duration
	partMin    time.Duration // what gohlslib is told (partMinDuration)
	log        *zap.Logger

	muxer *gohlslib.Muxer
	video *gohlslib.Track
	audio *gohlslib.Track // nil without audio

	sps            []byte
	width, height  int
	frameRate      float64
	codecs         []string
	created        time.Time
	videoWritten   int
	firstPTS       int64
	segmented      bool // gohlslib has closed a first segment (see ready)
	bits           bitrate
	pdt            map[string]time.Time // segment URI -> start (gohlslib dates the last two only)
	renderRequests map[string]*http.Request
	lastRaw        map[string][]byte

	lastCheckedPart, lastCheckedSegment string

	// cont is where this variant's playlists take up from the variant it replaced (zero for
	// a layer's first); shift turns gohlslib's segment numbers into the playlists' (shifted
	// once known: from the first rendering).
	cont    continuity
	shift   int
	shifted bool
	last    map[string]*playlist.Media // the newest rendering of each playlist, its own segments only
	// tail is the replaced variant's last segments while a playlist still lists them
	// (continuity.go): HTTP handlers read it; tailDone (the stream's goroutine) notes the
	// playlists that no longer do.
	tail     atomic.Pointer[oldTail]
	tailDone map[string]bool

	changed edge // wakes this variant's blocking requests

	snaps   map[string]*atomic.Pointer[snapshot] // by playlist file name
	objects objectCache
	closed  atomic.Bool

	// Calls into gohlslib: playlist renderings (the stream's goroutine, once per file per
	// frame at most) and object reads (requests, on a cache miss). Tests check that
	// requests do not add to them.
	renders, reads atomic.Int64
}

// newVariant starts a muxer for a layer whose first access unit (a keyframe) carries sps
// and pps. frameTicks is the layer's frame interval at 90 kHz (0 when unknown).
// audio is the room's audio codec as muxed (Opus, or AAC from the audio transcoder), nil
// without audio.
func newVariant(cfg Config, layer int, sps, pps []byte, frameTicks int64, audio codecs.Codec, log *zap.Logger) (*variant, error) {
	var parsed h264.SPS
	if err := parsed.Unmarshal(sps); err != nil {
		return nil, fmt.Errorf("llhls: parse SPS: %w", err)
	}
	v := &variant{
		layer: layer, name: [...]string{"q", "h", "f"}[layer], cfg: cfg, partTarget: cfg.PartTarget,
		log: log, sps: bytes.Clone(sps), width: parsed.Width(), height: parsed.Height(),
		created: time.Now(), pdt: map[string]time.Time{}, renderRequests: map[string]*http.Request{},
		lastRaw: map[string][]byte{}, snaps: map[string]*atomic.Pointer[snapshot]{}, last: map[string]*playlist.Media{},
	}
	v.changed.init()
	v.video = &gohlslib.Track{Codec: &codecs.H264{SPS: bytes.Clone(sps), PPS: bytes.Clone(pps)}, ClockRate: 90000}
	tracks := []*gohlslib.Track{v.video}
	v.codecs = []string{codecparams.Marshal(v.video.Codec)}
	if audio != nil {
		rate := 48000 // Opus, and the AAC ffmpeg makes of it
		if aac, ok := audio.(*codecs.MPEG4Audio); ok {
			rate = aac.Config.SampleRate // an RTMP host's own AAC keeps its rate
		}
		v.audio = &gohlslib.Track{Codec: audio, ClockRate: rate, Name: "audio", IsDefault: true}
		tracks = append(tracks, v.audio)
		v.codecs = append(v.codecs, codecparams.Marshal(v.audio.Codec))
	}
	if frameTicks > 0 {
		v.frameRate = 90000 / float64(frameTicks)
	} else if f := parsed.FPS(); f > 0 {
		v.frameRate = f
		frameTicks = int64(90000 / f)
	}
	v.partMin = partMinDuration(cfg.PartTarget, frameTicks)
	v.muxer = &gohlslib.Muxer{
		Tracks:             tracks,
		Variant:            gohlslib.MuxerVariantLowLatency,
		SegmentCount:       cfg.SegmentCount,
		SegmentMinDuration: cfg.SegmentDuration,
		PartMinDuration:    v.partMin,
		OnEncodeError: func(err error) {
			// gohlslib's note that the part duration changed is about its own PART-TARGET,
			// which Glint replaces with a constant one (see rewrite).
			// Likewise its TARGETDURATION note: Glint's is constant and a longer segment is
			// counted and logged once by countOverlong.
			if msg := err.Error(); !strings.Contains(msg, "part duration changed") && !strings.Contains(msg, "segment duration changed") {
				log.Warn("LL-HLS muxer", zap.Error(err))
			}
		},
	}
	if err := v.muxer.Start(); err != nil {
		return nil, fmt.Errorf("llhls: start muxer: %w", err)
	}
	files := []string{videoPlaylist}
	if audio != nil {
		files = append(files, audioPlaylist)
	}
	for _, f := range files {
		v.snaps[f] = &atomic.Pointer[snapshot]{}
		v.renderRequests[f] = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: f}}
	}
	if frameTicks > 0 {
		frame := ticksToDuration(frameTicks, 90000)
		if parts := (cfg.PartTarget / frame) * frame; parts < cfg.PartTarget*85/100 {
			log.Info("the frame rate does not divide the part target: parts are shorter than 85% of it",
				zap.Float64("fps", v.frameRate), zap.Duration("part_target", cfg.PartTarget), zap.Duration("part", parts))
		}
	}
	return v, nil
}

// partMinDuration is what gohlslib is told: it ends a part at the first frame at or past
// it, so half a frame below the largest whole number of frames within the target gives
// parts of exactly that many frames.
func partMinDuration(target time.Duration, frameTicks int64) time.Duration {
	if frameTicks <= 0 {
		return target * 85 / 100
	}
	frame := ticksToDuration(frameTicks, 90000)
	k := max(int64(target/frame), 1)
	return time.Duration(k)*frame - frame/2
}

// writeVideo muxes one access unit and re-renders the playlists when a part closed.
func (v *variant) writeVideo(ntp time.Time, pts int64, au [][]byte, size int) error {
	if err := v.muxer.WriteH264(v.video, ntp, pts, au); err != nil {
		return err
	}
	if v.videoWritten == 0 {
		v.firstPTS = pts
	} else if !v.segmented && hasNALU(au, 5) && pts-v.firstPTS >= durationToTicks(v.cfg.SegmentDuration+segmentMargin, 90000) {
		v.segmented = true
	}
	v.bits.add(size, time.Now())
	v.videoWritten++
	return nil
}

// audioHold is how long a video frame waits for the audio that covers it (holdback.go).
func (v *variant) audioHold() time.Duration {
	if _, aac := v.audio.Codec.(*codecs.MPEG4Audio); aac {
		return aacHold
	}
	return audioHold
}

func (v *variant) writeAudio(ntp time.Time, pts int64, payload []byte) error {
	if v.audio == nil {
		return nil
	}
	v.bits.add(len(payload), time.Now())
	if _, aac := v.audio.Codec.(*codecs.MPEG4Audio); aac {
		return v.muxer.WriteMPEG4Audio(v.audio, ntp, pts, [][]byte{payload})
	}
	return v.muxer.WriteOpus(v.audio, ntp, pts, [][]byte{payload})
}

// ready reports whether gohlslib has closed its first segment: before that, asking it for
// a playlist blocks until there is one, and only this goroutine could make one. A segment
// closes at the first keyframe SegmentDuration after the first; segmentMargin keeps this
// check on the safe side of gohlslib's own (an extra GOP of start-up at worst).
func (v *variant) ready() bool { return v.segmented }

const segmentMargin = 50 * time.Millisecond

// snapshot is the variant's current playlist for one file.
func (v *variant) snapshot(file string) *snapshot {
	p := v.snaps[file]
	if p == nil {
		return nil
	}
	return p.Load()
}

// snapshots is how many of the variant's playlists have one.
func (v *variant) snapshots() int {
	n := 0
	for _, p := range v.snaps {
		if p.Load() != nil {
			n++
		}
	}
	return n
}

// render asks gohlslib for each playlist and, where it changed, publishes a new snapshot.
// reports are the rendition reports of every other playlist of the stream.
func (v *variant) render(reports func(self string) []*playlist.MediaRenditionReport, events *eventLog) (changed bool) {
	if !v.ready() {
		return false
	}
	for file, req := range v.renderRequests {
		w := &recorder{}
		v.renders.Add(1)
		v.muxer.Handle(w, req)
		if w.status != http.StatusOK || bytes.Equal(w.body.Bytes(), v.lastRaw[file]) {
			continue
		}
		raw := w.body.Bytes()
		v.lastRaw[file] = raw
		snap, err := v.rewrite(file, raw, reports(v.name+"/"+file), events)
		if errors.Is(err, errNoSegmentYet) {
			delete(v.lastRaw, file) // rendered again with the next part
			continue
		}
		if err != nil {
			v.log.Warn("LL-HLS playlist", zap.String("file", file), zap.Error(err))
			continue
		}
		v.snaps[file].Store(snap)
		changed = true
	}
	if changed {
		v.changed.wake()
	}
	return changed
}

// object returns an init file, part or segment, from the cache or gohlslib.
// Requests for the same missing object share one read.
func (v *variant) object(name string) ([]byte, bool) {
	return v.objects.load(name, func() ([]byte, bool) {
		w := &recorder{}
		v.reads.Add(1)
		v.muxer.Handle(w, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: name}})
		if w.status != http.StatusOK {
			return nil, false
		}
		return w.body.Bytes(), true
	})
}

func (v *variant) close() {
	if v.closed.CompareAndSwap(false, true) {
		v.muxer.Close()
		v.changed.close()
	}
}

// recorder captures a gohlslib response in memory.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// objectCache keeps the most recent init files, parts and segments (all immutable) so a
// thousand viewers asking for the same part cost gohlslib one read: concurrent misses for
// one name wait for the first one's read (they all wake together when a part completes).
type objectCache struct {
	mu       sync.Mutex
	items    map[string][]byte
	order    []string
	inflight map[string]*objectRead
}

// objectRead is a read from gohlslib that other requests for the same name wait for.
type objectRead struct {
	done chan struct{}
	b    []byte
	ok   bool
}

const objectCacheSize = 96

// load returns name from the cache, or from read, called once for all concurrent callers.
func (c *objectCache) load(name string, read func() ([]byte, bool)) ([]byte, bool) {
	c.mu.Lock()
	if b, ok := c.items[name]; ok {
		c.mu.Unlock()
		return b, true
	}
	if r := c.inflight[name]; r != nil {
		c.mu.Unlock()
		<-r.done
		return r.b, r.ok
	}
	if c.inflight == nil {
		c.inflight = map[string]*objectRead{}
	}
	r := &objectRead{done: make(chan struct{})}
	c.inflight[name] = r
	c.mu.Unlock()

	r.b, r.ok = read()
	c.mu.Lock()
	delete(c.inflight, name)
	if r.ok {
		c.put(name, r.b)
	}
	c.mu.Unlock()
	close(r.done)
	return r.b, r.ok
}

// put adds an object; c.mu is held.
func (c *objectCache) put(name string, b []byte) {
	if c.items == nil {
		c.items = map[string][]byte{}
	}
	if _, ok := c.items[name]; ok {
		return
	}
	c.items[name] = b
	c.order = append(c.order, name)
	if len(c.order) > objectCacheSize {
		delete(c.items, c.order[0])
		c.order = c.order[1:]
	}
}

// bitrate measures a variant's bits per second over whole seconds, keeping the peak.
type bitrate struct {
	mu        sync.Mutex
	start     time.Time
	bytes     int
	last, max int
}

func (b *bitrate) add(n int, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.start.IsZero() {
		b.start = now
	}
	b.bytes += n
	if el := now.Sub(b.start); el >= time.Second {
		b.last = int(int64(b.bytes) * 8 * int64(time.Second) / int64(el))
		b.max = max(b.max, b.last)
		b.start, b.bytes = now, 0
	}
}

// rates are the last whole second's bitrate and the peak; before a whole second, what has
// been muxed so far, over the time since since (at least a quarter second).
func (b *bitrate) rates(since time.Time) (average, peak int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max == 0 {
		r := int(float64(b.bytes*8) / max(time.Since(since).Seconds(), 0.25))
		return r, r
	}
	return b.last, b.max
}
