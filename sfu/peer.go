package sfu

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// Role says which side of the SFU a session is on.
type Role string

const (
	RolePublisher Role = "publisher"
	RoleViewer    Role = "viewer"
)

// gatherTimeout bounds how long an answer waits for the server's own candidates. With the
// UDP mux they are host candidates known at once, so this only guards against surprises.
const gatherTimeout = 2 * time.Second

// Peer is one WebRTC session, publisher or viewer, with the lifecycle both share: it is
// reaped if ICE/DTLS does not complete within ConnectTimeout or fails later, and Close is
// idempotent and waits for every goroutine the session started.
type Peer struct {
	PC   *webrtc.PeerConnection // nil for an ingest session (NewIngestPeer)
	role Role
	log  *zap.Logger
	sfu  *SFU

	mu          sync.Mutex
	onConnected []func()
	onClose     []func()
	connected   bool
	closing     bool
	reaped      bool // closed by the server (reap), not by its owner
	watching    bool // a host watch runs on it (Room.watchHost)

	// heard is when the last packet (RTP or RTCP) of a host session arrived, unix nanos,
	// 0 before the first; kick wakes the host watch on the first.
	heard atomic.Int64
	kick  chan struct{}

	timer    *time.Timer
	wg       sync.WaitGroup
	stopping chan struct{} // closed when Close begins: session goroutines end on it
	done     chan struct{}
	seq      uint64 // creation order: a newer host session wins over an older one
	// handshake is the session's slot in the SFU's handshake bound, released once it
	// connects or ends or its lease passes; nil for an ingest session, which has no handshake.
	handshake *handshakeSlot
}

var peerSeq atomic.Uint64

// SessionOptions say who starts a session, as far as the SFU needs to know.
type SessionOptions struct {
	// Client keys the per-client cap on handshakes in progress (Config.MaxHandshakes):
	// signaling passes the client's address. "" means no per-client cap (library users,
	// RTMP ingest).
	Client string
}

// NewPeer creates a session's PeerConnection with the publisher or viewer configuration.
func (s *SFU) NewPeer(role Role, opts SessionOptions, log *zap.Logger) (*Peer, error) {
	api := s.engine.sub
	if role == RolePublisher {
		api = s.engine.pub
	}
	cert, err := s.cert.get(time.Now())
	if err != nil {
		return nil, err
	}
	slot, err := s.handshakes.acquire(opts.Client)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{cert}})
	if err != nil {
		slot.release()
		return nil, fmt.Errorf("sfu: new peer connection: %w", err)
	}
	p := &Peer{PC: pc, role: role, log: log, sfu: s, stopping: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1), seq: peerSeq.Add(1), handshake: slot}
	// The timer exists before the SFU can see the peer: SFU.Close may close it at once.
	p.timer = time.AfterFunc(s.cfg.ConnectTimeout, func() { p.reap("connect_timeout") })
	if !s.track(p) {
		p.timer.Stop()
		_ = pc.Close()
		slot.release()
		return nil, ErrClosed
	}
	sessionsGauge.WithLabelValues(string(role)).Inc()
	pc.OnConnectionStateChange(p.onState)
	return p, nil
}

// NewIngestPeer creates a host session that has no PeerConnection: the media comes from
// another protocol (RTMP through the transcoder) and is handed to Room.Publish with a
// TrackSource of its own. It counts as connected at once, so it takes the stage when it
// publishes, and it has the same lifecycle as any session: Go, OnClose, Close.
func (s *SFU) NewIngestPeer(log *zap.Logger) (*Peer, error) {
	p := &Peer{role: RolePublisher, log: log, sfu: s, connected: true, stopping: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1), seq: peerSeq.Add(1)}
	p.timer = time.NewTimer(time.Hour)
	p.timer.Stop()
	if !s.track(p) {
		return nil, ErrClosed
	}
	sessionsGauge.WithLabelValues(string(RolePublisher)).Inc()
	return p, nil
}

// OnDataChannel registers f for data channels the remote peer opens (the interaction
// channel); an ingest session has none.
func (p *Peer) OnDataChannel(f func(*webrtc.DataChannel)) {
	if p.PC != nil {
		p.PC.OnDataChannel(f)
	}
}

// OnConnected registers f to run once the transport is up.
func (p *Peer) OnConnected(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onConnected = append(p.onConnected, f)
}

// OnClose registers f to run when the session ends, before Close returns. Registered on a
// session already closing, f runs once it has closed, so no cleanup is ever skipped.
func (p *Peer) OnClose(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		go func() { <-p.done; f() }()
		return
	}
	p.onClose = append(p.onClose, f)
}

// Go runs f on a goroutine that Close waits for. f must return once the PeerConnection
// closes. On a session already closing, f is not run and Go reports false.
func (p *Peer) Go(f func()) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
	return true
}

// Session numbers the session in creation order, as Event.Session does.
func (p *Peer) Session() uint64 { return p.seq }

// Closing reports whether the session has begun to close.
func (p *Peer) Closing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closing
}

// Stopping is closed when the session begins to close: goroutines started with Go that do
// not end with the PeerConnection wait on it.
func (p *Peer) Stopping() <-chan struct{} { return p.stopping }

// Done is closed when the session has ended.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Answer applies the remote offer and returns the complete local answer (with candidates,
// so clients that do not trickle work).
func (p *Peer) Answer(offer string) (string, error) {
	if err := p.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	answer, err := p.PC.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	gathered := webrtc.GatheringCompletePromise(p.PC)
	if err := p.PC.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("sfu: set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-time.After(gatherTimeout):
	}
	return p.PC.LocalDescription().SDP, nil
}

// AddICECandidate adds a trickled remote candidate.
func (p *Peer) AddICECandidate(c webrtc.ICECandidateInit) error {
	if err := p.PC.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCandidate, err)
	}
	return nil
}

func (p *Peer) onState(s webrtc.PeerConnectionState) {
	switch s {
	case webrtc.PeerConnectionStateConnected:
		p.mu.Lock()
		if p.connected || p.closing {
			p.mu.Unlock()
			return
		}
		p.connected = true
		p.timer.Stop()
		p.handshake.release()
		hooks := p.onConnected
		p.mu.Unlock()
		for _, f := range hooks {
			f()
		}
	case webrtc.PeerConnectionStateFailed:
		// Close from a new goroutine: pion must not be re-entered from its own callback.
		go p.reap("ice_failed")
	case webrtc.PeerConnectionStateClosed:
		go p.Close()
	}
}

func (p *Peer) reap(reason string) {
	p.mu.Lock()
	already := p.closing
	p.mu.Unlock()
	if already {
		return
	}
	sessionsReaped.WithLabelValues(reason).Inc()
	p.log.Info("session reaped", zap.String("reason", reason))
	p.mu.Lock()
	p.reaped = true
	p.mu.Unlock()
	p.Close()
}

// endReason is why a host session left the stage: gone if the server reaped it, else
// stopped (its owner closed it).
func (p *Peer) endReason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return HostGone
	}
	return HostStopped
}

// Heard notes that a packet of a host session arrived: ingest calls it for RTCP (the
// Receiver does for RTP), so a muted host whose sender reports still arrive stays live.
func (p *Peer) Heard() { p.heardAt(time.Now().UnixNano()) }

// heardEvery is how stale heard may get: far below any HostTimeout (1 s at least), and
// far above the packet interval, so the packet path mostly only reads it.
const heardEvery = 10 * time.Millisecond

// heardAt is Heard at now; on the media path of up to four receivers and the RTCP reader
// at once, so it reads first and writes only when heard is heardEvery old: a write per
// packet would bounce the cache line between their cores. No allocation.
func (p *Peer) heardAt(now int64) {
	last := p.heard.Load()
	if last != 0 && now-last < int64(heardEvery) {
		return
	}
	p.heard.Store(now)
	if last == 0 {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// watchOnce reports whether the caller is the first to start the host watch on p.
func (p *Peer) watchOnce() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := !p.watching
	p.watching = true
	return first
}

// Close ends the session: closes the PeerConnection, runs the close hooks and waits for
// the session's goroutines. Safe to call more than once and from any goroutine.
func (p *Peer) Close() {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.closing = true
	hooks := p.onClose
	p.mu.Unlock()
	close(p.stopping)

	p.timer.Stop()
	p.handshake.release() // failed, reaped or ended before it connected
	if p.PC != nil {
		if err := p.PC.Close(); err != nil && !errors.Is(err, webrtc.ErrConnectionClosed) {
			p.log.Debug("close peer connection", zap.Error(err))
		}
	}
	p.wg.Wait()
	for _, f := range hooks {
		f()
	}
	sessionsGauge.WithLabelValues(string(p.role)).Dec()
	p.sfu.untrack(p)
	close(p.done)
}
