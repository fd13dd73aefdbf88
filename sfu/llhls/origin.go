package llhls

import (
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
)

// Origin is the LL-HLS origin of one node: it starts a room's stream on the first request,
// stops it when nobody asked for IdleTimeout or the room ends, and serves it over HTTP
// (handler.go).
type Origin struct {
	cfg       Config
	sfu       *sfu.SFU
	authorize Authorizer
	log       *zap.Logger

	// relay asks for a room hosted on another node of a cluster (ingest/relay's Want);
	// nil on a node alone. Set before serving.
	relay func(room string) bool

	players *players // who reads what (players.go)

	mu      sync.Mutex
	streams map[string]*stream
	closed  bool
	quit    chan struct{}
	wg      sync.WaitGroup
}

// New builds an Origin over an SFU. authorize checks each request's token (nil: every
// request is allowed, for CDN deployments that sign URLs instead; see docs/PROTOCOL.md).
func New(cfg Config, s *sfu.SFU, authorize Authorizer, log *zap.Logger) (*Origin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.FFmpeg != "" {
		cfg.passthrough = passthroughArgs(cfg.FFmpeg)
	}
	o := &Origin{cfg: cfg, sfu: s, authorize: authorize, log: log.Named("llhls"), streams: map[string]*stream{}, quit: make(chan struct{}), players: newPlayers()}
	o.wg.Add(1)
	go o.reap()
	return o, nil
}

// Close stops every stream; waiting requests get 503.
func (o *Origin) Close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	streams := o.streams
	o.streams = map[string]*stream{}
	o.mu.Unlock()
	close(o.quit)
	for _, st := range streams {
		st.stop()
	}
	o.wg.Wait()
}

// Enabled reports whether /hls/ is served.
func (o *Origin) Enabled() bool { return o != nil && o.cfg.Enabled }

// PlaylistPath is a room's multivariant playlist, for the Link a WebRTC refusal carries.
func PlaylistPath(room string) string { return "/hls/" + room + "/index.m3u8" }

// Streams is how many rooms are being muxed.
func (o *Origin) Streams() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.streams)
}

// SetRelay makes a request for a room this node does not host ask want(room) to relay it
// from the node that does (a cluster: ingest/relay), and wait for it (relayWait). Call it
// before serving.
func (o *Origin) SetRelay(want func(room string) bool) { o.relay = want }

// Watching reports whether room's LL-HLS is being muxed (asked for within IdleTimeout):
// a relay of the room stays up for it as for a WebRTC viewer.
func (o *Origin) Watching(room string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.streams[room]
	return st != nil && !st.stopping()
}

// relayWait bounds how long a request waits for a room being relayed from another node to
// go live here (a WHEP round trip to the origin, ICE and a first keyframe).
const relayWait = 10 * time.Second

// liveRoom is the room when a host publishes video to it here, else, on a cluster whose
// other node hosts it, the room once the relay from there has put video on its stage.
func (o *Origin) liveRoom(name string) *sfu.Room {
	live := func() *sfu.Room {
		if room := o.sfu.Room(name); room != nil && room.Track(webrtc.RTPCodecTypeVideo).Receiver() != nil {
			return room
		}
		return nil
	}
	if room := live(); room != nil || o.relay == nil || !o.relay(name) {
		return room
	}
	for deadline := time.Now().Add(relayWait); time.Now().Before(deadline); {
		select {
		case <-o.quit:
			return nil
		case <-time.After(50 * time.Millisecond):
		}
		if room := live(); room != nil {
			return room
		}
	}
	return nil
}

// stream returns the room's running stream, starting it if the room is live, with a
// request in flight on it: the caller calls leave when the request ends.
func (o *Origin) stream(name string) (*stream, error) {
	room := o.sfu.Room(name)
	if o.relay != nil {
		if live := o.liveRoom(name); live != nil {
			room = live
		}
	}
	if room == nil {
		return nil, ErrNoRoom
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil, ErrClosed
	}
	if st := o.streams[name]; st != nil && st.room == room && !st.stopping() {
		st.enter()
		return st, nil
	}
	rcv := room.Track(webrtc.RTPCodecTypeVideo).Receiver()
	if rcv == nil {
		return nil, ErrNotLive
	}
	switch mime := rcv.Codec().MimeType; {
	case strings.EqualFold(mime, webrtc.MimeTypeH264):
	case strings.EqualFold(mime, webrtc.MimeTypeVP8) && o.cfg.FFmpeg != "":
	default:
		return nil, ErrVP8
	}
	if old := o.streams[name]; old != nil {
		go old.stop() // a stream of a room that ended and was created anew
	}
	if len(o.streams) >= o.cfg.MaxStreams {
		return nil, ErrTooManyStreams
	}
	st := newStream(name, room, o.cfg, o.log)
	o.streams[name] = st
	st.enter()
	st.start()
	return st, nil
}

// reap stops streams nobody asked for in IdleTimeout, whose room ended, or whose host has
// been gone for a while.
func (o *Origin) reap() {
	defer o.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-o.quit:
			return
		case now := <-t.C:
			for _, st := range o.expired(now) {
				st.stop()
			}
		}
	}
}

func (o *Origin) expired(now time.Time) []*stream {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*stream
	for name, st := range o.streams {
		idle := st.idle(now, o.cfg.IdleTimeout)
		ended := o.sfu.Room(name) != st.room || st.room.Track(webrtc.RTPCodecTypeVideo).Receiver() == nil && idle
		if idle || ended || st.stopping() {
			delete(o.streams, name)
			out = append(out, st)
		}
	}
	return out
}
