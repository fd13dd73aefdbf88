package sfu

import (
	"sync/atomic"
	"time"
)

// SourceAudio is a host session's audio as its encoder sent it, beside the stage's audio
// Track: an RTMP host's AAC, of which WebRTC viewers get the ladder's Opus. An outbound
// adapter that can carry it as it came (LL-HLS: AAC is what every HLS player decodes)
// reads it instead of transcoding the Opus back, which would cost an ffmpeg per room and a
// second lossy encode. The room forwards the current host session's only.
type SourceAudio struct {
	room *Room
	// Config is the MPEG-4 AudioSpecificConfig (ISO 14496-3 1.6.2.1) of every unit.
	Config []byte
	// Rate is the sample rate: units' timestamps count samples at it.
	Rate uint32
}

// A SourceAudioReader takes the host's audio units. ReadSourceAudio runs on the host
// session's goroutine: like a MediaReader it must copy what it keeps and return at once.
// ts counts samples at a.Rate (wrapping, as an RTP timestamp does); capture is the unit's
// time on the room's media clock (the clock the video's sender reports map to).
type SourceAudioReader interface {
	ReadSourceAudio(a *SourceAudio, ts uint32, capture time.Time, unit []byte)
}

// sourceAudio is a Room's: the current host session's SourceAudio and who reads it.
type sourceAudio struct {
	current atomic.Pointer[SourceAudio]
	owner   *Peer // under Room.mu: the session current belongs to
	readers atomic.Pointer[[]SourceAudioReader]
}

// SetSourceAudio offers host session p's source audio (AAC, described by config, ts
// counted at rate) to the room's source audio readers. It returns nil, and nothing is
// forwarded, when p is not the room's host (replaced meanwhile); the room forgets it
// when p is cleared.
func (r *Room) SetSourceAudio(p *Peer, config []byte, rate uint32) *SourceAudio {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.publisher != p || p.Closing() {
		return nil
	}
	a := &SourceAudio{room: r, Config: append([]byte(nil), config...), Rate: rate}
	r.source.owner = p
	r.source.current.Store(a)
	return a
}

// SourceAudio is the current host session's source audio, nil when it offers none (a
// WebRTC host, whose Opus is the source).
func (r *Room) SourceAudio() *SourceAudio { return r.source.current.Load() }

// clearSourceAudio forgets p's source audio; under r.mu.
func (r *Room) clearSourceAudio(p *Peer) {
	if r.source.owner == p {
		r.source.owner = nil
		r.source.current.Store(nil)
	}
}

// AddSourceAudioReader subscribes rd to the source audio of whichever host the room has,
// now and later.
func (r *Room) AddSourceAudioReader(rd SourceAudioReader) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.source.readers.Load()
	var next []SourceAudioReader
	if old != nil {
		next = append(next, *old...)
	}
	next = append(next, rd)
	r.source.readers.Store(&next)
}

// RemoveSourceAudioReader unsubscribes rd; a call already begun may still be running.
func (r *Room) RemoveSourceAudioReader(rd SourceAudioReader) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.source.readers.Load()
	if old == nil {
		return
	}
	next := make([]SourceAudioReader, 0, len(*old))
	for _, x := range *old {
		if x != rd {
			next = append(next, x)
		}
	}
	r.source.readers.Store(&next)
}

// Write hands one unit to the room's readers, if a is still the room's source audio (a
// replaced session's last units go nowhere). Nothing is allocated.
func (a *SourceAudio) Write(ts uint32, capture time.Time, unit []byte) {
	if a == nil || a.room.source.current.Load() != a {
		return
	}
	readers := a.room.source.readers.Load()
	if readers == nil {
		return
	}
	for _, rd := range *readers {
		rd.ReadSourceAudio(a, ts, capture, unit)
	}
}
