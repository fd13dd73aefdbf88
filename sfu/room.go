package sfu

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// Room is one broadcast: a stage with an audio and a video Track, the host feeding them and
// the viewers watching them.
type Room struct {
	name  string
	sfu   *SFU
	log   *zap.Logger
	audio *Track
	video *Track

	mu         sync.Mutex
	publishers int
	viewers    int
	publisher  *Peer           // the current host session; a newer one replaces it
	announced  map[*Peer]uint8 // host sessions' kinds of track announced (EventTrackPublished), a bit per kind
	host       HostState       // written under mu, published to hostNow
	reduced    string          // HostState.Reduced of session reducedBy (SetHostReduced)
	reducedBy  *Peer
	emptyTimer *time.Timer
	closed     bool // the SFU has shut down: no more timers

	// hostNow is host, for Host to read without mu: polled every 50 ms per room.
	hostNow atomic.Pointer[HostState]

	source sourceAudio // the host's audio as it came (an RTMP host's AAC), for LL-HLS
}

// RoomInfo is a room's public state.
type RoomInfo struct {
	Name       string `json:"name"`
	Publishing bool   `json:"publishing"`
	Viewers    int    `json:"viewers"`
}

func newRoom(s *SFU, name string) *Room {
	return &Room{
		name:  name,
		sfu:   s,
		log:   s.log.With(zap.String("room", name)),
		audio: s.engine.newTrack(webrtc.RTPCodecTypeAudio),
		video: s.engine.newTrack(webrtc.RTPCodecTypeVideo),
	}
}

// Name is the room's name.
func (r *Room) Name() string { return r.name }

// Track returns the stage track of a kind.
func (r *Room) Track(kind webrtc.RTPCodecType) *Track {
	if kind == webrtc.RTPCodecTypeAudio {
		return r.audio
	}
	return r.video
}

// Info reports the room's state.
func (r *Room) Info() RoomInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return RoomInfo{Name: r.name, Publishing: r.video.Receiver() != nil || r.audio.Receiver() != nil, Viewers: r.viewers}
}

// Hosts reports how many host sessions have joined the room (joined, not necessarily
// publishing yet), and the session number (Peer.Session) of the one on the stage, if any.
func (r *Room) Hosts() (joined int, stage uint64, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.publisher != nil {
		stage, ok = r.publisher.seq, true
	}
	return r.publishers, stage, ok
}

// admit counts a participant in; called by SFU.Join under the SFU lock.
func (r *Room) admit(role Role) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if role == RoleViewer {
		if err := r.admitViewer(); err != nil {
			return err
		}
		r.viewers++
		r.sfu.viewers.Add(1)
	} else {
		r.publishers++
	}
	if r.emptyTimer != nil {
		r.emptyTimer.Stop()
		r.emptyTimer = nil
	}
	return nil
}

// Leave counts a participant out. The room is removed once it stays empty for
// EmptyRoomTimeout, so a host who reconnects finds its viewers still there.
func (r *Room) Leave(role Role) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if role == RoleViewer {
		r.viewers--
		r.sfu.viewers.Add(-1)
	} else {
		r.publishers--
	}
	if r.empty() && r.emptyTimer == nil && !r.closed {
		r.emptyTimer = time.AfterFunc(r.sfu.cfg.EmptyRoomTimeout, func() { r.sfu.removeIfEmpty(r) })
	}
}

// empty is called with r.mu held.
func (r *Room) empty() bool { return r.publishers == 0 && r.viewers == 0 }

func (r *Room) stopTimer() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.emptyTimer != nil {
		r.emptyTimer.Stop()
	}
}

// SetPublisher makes p the room's host session and closes the previous one: a host who
// reconnects before the old session timed out takes over at once. Callers do this when p
// has connected, so a session that never connects cannot end a working broadcast. An
// older session never displaces a newer one. It reports whether p is the host now.
//
// A replacement does not take the host off the stage: viewers see no room.ended for a
// host who reconnects while live, only the picture continuing from the new session. The
// new session inherits the live state and has HostTimeout to send its first packet.
func (r *Room) SetPublisher(p *Peer) bool {
	r.mu.Lock()
	old := r.publisher
	if p.Closing() || (old != nil && old.seq > p.seq) {
		r.mu.Unlock()
		return false
	}
	r.publisher = p
	if old != p {
		r.clearSourceAudio(old) // the new session offers its own, or none
		r.forgetReduced(old)    // and sends with its own ingest
	}
	if r.host.Live && old != p {
		p.heard.CompareAndSwap(0, time.Now().UnixNano())
	}
	r.mu.Unlock()
	if p.watchOnce() {
		p.Go(func() { r.watchHost(p) }) // not run if p closed meanwhile: nothing to watch
	}
	if old != nil && old != p {
		r.log.Info("publisher replaced by a new session")
		go old.Close()
	}
	return true
}

// EndHost closes the room's host session, whatever its protocol (an RTMP host's
// connection goes with it), and reports whether there was one. The room API's "end room".
func (r *Room) EndHost() bool {
	r.mu.Lock()
	p := r.publisher
	r.mu.Unlock()
	if p == nil {
		return false
	}
	p.Close()
	return true
}

// ClearPublisher forgets p if it is still the host session; a live host is then off the
// stage: stopped, or gone if the server reaped the session (say, ICE failed).
func (r *Room) ClearPublisher(p *Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hostEnded(p, p.endReason())
	if r.publisher == p {
		r.publisher = nil
	}
	r.clearSourceAudio(p)
	r.forgetReduced(p)
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if r.announced[p]&(1<<kind) != 0 {
			r.sfu.emitTrack(EventTrackUnpublished, r.name, kind, p.seq)
		}
	}
	delete(r.announced, p)
}

// announce raises EventTrackPublished for p's first track of kind (a simulcast host
// publishes one per layer: one event for all of them).
func (r *Room) announce(p *Peer, kind webrtc.RTPCodecType) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.publisher != p || p.Closing() {
		return // replaced or ended meanwhile: ClearPublisher has run or will not see it
	}
	if r.announced == nil {
		r.announced = map[*Peer]uint8{}
	}
	if r.announced[p]&(1<<kind) != 0 {
		return
	}
	r.announced[p] |= 1 << kind
	r.sfu.emitTrack(EventTrackPublished, r.name, kind, p.seq)
}

// Publish attaches a track of host session p to the stage Track of its kind and returns
// its Receiver; the caller runs Receiver.Run on a goroutine it owns. A track from a session
// that is no longer (or cannot become) the host is refused with ErrReplaced.
func (r *Room) Publish(p *Peer, t PublishedTrack) (*Receiver, error) {
	if matchCodec(t.Codec, forwardedCodecs()) < 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnsupportedCodec, t.Codec.MimeType)
	}
	layer, err := LayerFromRID(t.RID)
	if err != nil {
		return nil, err
	}
	if t.Kind == webrtc.RTPCodecTypeAudio {
		layer = LayerFull
	}
	if !r.SetPublisher(p) {
		return nil, ErrReplaced
	}
	track := r.Track(t.Kind)
	rcv := newReceiver(track, t, &r.sfu.cfg, r.log.With(zap.String("kind", t.Kind.String()), zap.String("rid", t.RID)))
	rcv.layer, rcv.session = layer, p
	track.attach(rcv)
	r.announce(p, t.Kind)
	return rcv, nil
}
