// Package thumbnail makes a JPEG of a room's live video for the directory: a reader of
// the room's video Track (like LL-HLS, a subscriber of the hub) takes the next keyframe,
// and ffmpeg decodes it and scales it down. A room's thumbnail is made when asked for and
// kept for MaxAge, so rooms nobody looks at cost nothing and a busy directory page costs
// one keyframe and one ffmpeg run per room every MaxAge.
package thumbnail

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// Errors a caller maps to HTTP statuses.
var (
	// ErrNoFFmpeg: thumbnails need ffmpeg, which this server cannot run.
	ErrNoFFmpeg = errors.New("thumbnails need ffmpeg, which this server does not have")
	// ErrNotLive: the room has no live video to take a picture of.
	ErrNotLive = errors.New("the room has no live video")
	// ErrBusy: too many thumbnails are being made at once; ask again shortly.
	ErrBusy = errors.New("thumbnails are being made for other rooms; retry")
	// ErrNoKeyframe: the room is live but sent no whole keyframe in time; ask again.
	ErrNoKeyframe = errors.New("no keyframe from the host in time; retry")
)

// Settings of the maker.
const (
	MaxAge       = 10 * time.Second // how long a thumbnail is served before it is made again
	Width        = 480              // the JPEG's width; the height keeps the aspect ratio
	keyframeWait = 3 * time.Second  // for the next keyframe, after asking the host for one
	ffmpegWait   = 5 * time.Second
	maxFrame     = 4 << 20 // bytes of one keyframe kept at most
	maxJPEG      = 1 << 20
	maxParallel  = 2 // ffmpeg runs at once, for all rooms (a room waiting for its keyframe holds none)
	maxCached    = 1000
)

// Maker makes and caches rooms' thumbnails.
type Maker struct {
	sfu    *sfu.SFU
	ffmpeg string // "" when none was found
	log    *zap.Logger
	slots  chan struct{}

	mu     sync.Mutex
	rooms  map[string]*entry
	closed bool
	wg     sync.WaitGroup // thumbnails being made
}

type entry struct {
	jpeg  []byte
	at    time.Time
	err   error
	ready chan struct{} // closed when this attempt is done
}

// New returns a Maker for s's rooms, running ffmpeg (a name on PATH or a path).
func New(s *sfu.SFU, ffmpeg string, log *zap.Logger) *Maker {
	m := &Maker{sfu: s, log: log.Named("thumbnail"), slots: make(chan struct{}, maxParallel), rooms: map[string]*entry{}}
	if path, err := exec.LookPath(ffmpeg); err == nil {
		m.ffmpeg = path
	} else {
		m.log.Info("no ffmpeg: rooms have no thumbnails", zap.String("ffmpeg", ffmpeg))
	}
	return m
}

// Available reports whether thumbnails can be made at all.
func (m *Maker) Available() bool { return m.ffmpeg != "" }

// Get returns room's thumbnail and when it was taken, making it when the cached one is
// older than MaxAge. Concurrent calls for one room share one attempt.
func (m *Maker) Get(ctx context.Context, room string) ([]byte, time.Time, error) {
	if m.ffmpeg == "" {
		return nil, time.Time{}, ErrNoFFmpeg
	}
	m.mu.Lock()
	e := m.rooms[room]
	if e != nil {
		select {
		case <-e.ready:
			if e.err == nil && time.Since(e.at) < MaxAge {
				m.mu.Unlock()
				return e.jpeg, e.at, nil
			}
			e = nil // stale or failed: make it again
		default: // being made
		}
	}
	if e == nil {
		if m.closed {
			m.mu.Unlock()
			return nil, time.Time{}, ErrNotLive
		}
		if len(m.rooms) >= maxCached {
			m.evictLocked()
		}
		e = &entry{ready: make(chan struct{})}
		m.rooms[room] = e
		m.wg.Add(1)
		go m.make(room, e)
	}
	m.mu.Unlock()
	select {
	case <-e.ready:
		return e.jpeg, e.at, e.err
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	}
}

// evictLocked drops the finished entries older than MaxAge.
func (m *Maker) evictLocked() {
	for name, e := range m.rooms {
		select {
		case <-e.ready:
			if time.Since(e.at) >= MaxAge || e.err != nil {
				delete(m.rooms, name)
			}
		default:
		}
	}
}

// Close waits for the thumbnails being made; none is made after it.
func (m *Maker) Close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.wg.Wait()
}

func (m *Maker) make(room string, e *entry) {
	defer m.wg.Done()
	defer close(e.ready)
	e.jpeg, e.err = m.take(room)
	e.at = time.Now()
	if e.err != nil && !errors.Is(e.err, ErrNotLive) && !errors.Is(e.err, ErrBusy) && !errors.Is(e.err, ErrNoKeyframe) {
		m.log.Warn("thumbnail not made", zap.String("room", room), zap.Error(e.err))
	}
}

// take grabs the room's next keyframe and has ffmpeg make the JPEG.
func (m *Maker) take(room string) ([]byte, error) {
	r := m.sfu.Room(room)
	if r == nil || !r.Host().Live {
		return nil, ErrNotLive
	}
	track := r.Track(webrtc.RTPCodecTypeVideo)
	g := &grab{done: make(chan struct{})}
	track.AddReader(g)
	select {
	case <-g.done:
	case <-time.After(keyframeWait):
	}
	track.RemoveReader(g)
	frame, format, err := g.result()
	if err != nil {
		return nil, err
	}
	select {
	case m.slots <- struct{}{}:
		defer func() { <-m.slots }()
	default:
		return nil, ErrBusy
	}
	return m.encode(frame, format)
}

// encode runs ffmpeg on one keyframe (format "h264" Annex-B or "ivf").
func (m *Maker) encode(frame []byte, format string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ffmpegWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", format, "-i", "pipe:0", "-frames:v", "1", "-vf", fmt.Sprintf("scale=%d:-2", Width),
		"-q:v", "5", "-f", "mjpeg", "pipe:1")
	cmd.Stdin = bytes.NewReader(frame)
	var out, errOut bytes.Buffer
	stdout := &limited{b: &out, n: maxJPEG}
	cmd.Stdout, cmd.Stderr = stdout, &limited{b: &errOut, n: 4096}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w: %s", err, strings.TrimSpace(errOut.String()))
	}
	if stdout.cut {
		return nil, fmt.Errorf("ffmpeg's JPEG is over %d bytes", maxJPEG)
	}
	if out.Len() < 4 || !bytes.HasPrefix(out.Bytes(), []byte{0xff, 0xd8}) {
		return nil, fmt.Errorf("ffmpeg made no JPEG: %s", strings.TrimSpace(errOut.String()))
	}
	return out.Bytes(), nil
}

// limited keeps the first n bytes written and drops the rest, noting that it did.
type limited struct {
	b   *bytes.Buffer
	n   int
	cut bool
}

func (l *limited) Write(p []byte) (int, error) {
	room := l.n - l.b.Len()
	if len(p) > room {
		l.cut = true
	}
	if room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// grab is a MediaReader that keeps the first whole keyframe of one layer: the packets
// from the keyframe's first until the one with the marker bit.
type grab struct {
	mu       sync.Mutex
	src      *sfu.Receiver
	ts       uint32
	vp8      bool
	frame    []byte
	size     int
	tooLarge bool
	done     chan struct{}
	closed   bool
	h264     codecs.H264Packet
}

// ReadsLayers is the lowest layer: any keyframe makes a thumbnail, and a host that pauses
// layers nobody watches (dynacast) keeps the lowest, so a thumbnail never wakes the others.
func (g *grab) ReadsLayers() [3]bool { return [3]bool{true, false, false} }

var _ sfu.LayerReader = (*grab)(nil)

func (g *grab) ReadRTP(src *sfu.Receiver, _ []byte, pkt *rtp.Packet, keyframe bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	if g.src == nil {
		if !keyframe {
			return
		}
		g.src, g.ts = src, pkt.Timestamp
		g.vp8 = strings.EqualFold(src.Codec().MimeType, webrtc.MimeTypeVP8)
	}
	if src != g.src || pkt.Timestamp != g.ts {
		return
	}
	var payload []byte
	var err error
	if g.vp8 {
		var p codecs.VP8Packet
		payload, err = p.Unmarshal(pkt.Payload)
	} else {
		payload, err = g.h264.Unmarshal(pkt.Payload)
	}
	switch {
	case err != nil:
	case g.size+len(payload) > maxFrame:
		g.tooLarge = true
	default:
		g.frame = append(g.frame, payload...)
		g.size += len(payload)
	}
	if pkt.Marker {
		g.closed = true
		close(g.done)
	}
}

// result is the keyframe in a form ffmpeg reads, and that form; an error when no whole
// keyframe came.
func (g *grab) result() ([]byte, string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case !g.closed || len(g.frame) == 0:
		g.closed = true
		return nil, "", fmt.Errorf("%w (waited %v)", ErrNoKeyframe, keyframeWait)
	case g.tooLarge:
		return nil, "", fmt.Errorf("the keyframe is over %d bytes", maxFrame)
	case !g.vp8:
		return g.frame, "h264", nil
	}
	return ivf(g.frame), "ivf", nil
}

// ivf wraps one VP8 frame in an IVF file (a 32-byte header and a 12-byte frame header),
// the container ffmpeg reads VP8 from.
func ivf(frame []byte) []byte {
	out := make([]byte, 32+12+len(frame))
	copy(out, "DKIF")
	binary.LittleEndian.PutUint16(out[4:], 0)  // version
	binary.LittleEndian.PutUint16(out[6:], 32) // header size
	copy(out[8:], "VP80")
	// Width and height are read from the keyframe itself by the decoder.
	binary.LittleEndian.PutUint32(out[16:], 30) // time base denominator
	binary.LittleEndian.PutUint32(out[20:], 1)  // numerator
	binary.LittleEndian.PutUint32(out[24:], 1)  // frames
	binary.LittleEndian.PutUint32(out[32:], uint32(len(frame)))
	copy(out[44:], frame)
	return out
}
