package relay

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
)

// pull is one room relayed from its origin: a WHEP session there whose tracks are this
// node's stage for the room.
type pull struct {
	relays  *Relays
	room    string
	origin  Entry
	log     *zap.Logger
	started time.Time
	live    atomic.Bool // connected to the origin: announced under the room's entry
	absent  int         // directory reads in a row that found no origin (watch's)
}

// Why a relay ended, when it matters to what comes next.
const (
	endMoved = "the room's origin moved to another node"
	endLost  = "connection to the origin lost"
)

// movedCheck is how often a relay reads the directory for its room's origin (one KV read).
const movedCheck = 500 * time.Millisecond

// disconnectedGrace is how long a relay rides out ICE's "disconnected" (a lost consent
// check or two) before it counts the connection lost.
const disconnectedGrace = 5 * time.Second

// run relays the room until watch says to stop; if the origin moved or went while this
// node's viewers still watch, a relay from wherever the directory now says starts.
func (p *pull) run() {
	why := p.relay()
	p.relays.done(p)
	p.relays.withdrawRelay(p.room) // after done: no announcement puts it back
	if why != endMoved && why != endLost {
		return
	}
	if sr := p.relays.opts.SFU.Room(p.room); sr != nil && sr.Info().Viewers > 0 {
		select {
		case <-p.relays.stop:
		case <-time.After(250 * time.Millisecond):
			p.relays.Want(p.room)
		}
	}
}

func (p *pull) relay() (why string) {
	r := p.relays
	token, err := r.opts.Token(p.room)
	if err != nil {
		p.log.Warn("relay not started: no token", zap.Error(err))
		return "no token"
	}
	api := r.api
	if isLoopback(p.origin.URL) {
		api = r.loopAPI
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		p.log.Warn("relay not started", zap.Error(err))
		return "no connection"
	}
	room, err := r.opts.SFU.Join(p.room, sfu.RolePublisher)
	if err != nil {
		_ = pc.Close()
		p.log.Warn("relay not started", zap.Error(err))
		return "no room"
	}
	host, err := r.opts.SFU.NewIngestPeer(p.log)
	if err != nil {
		_ = pc.Close()
		room.Leave(sfu.RolePublisher)
		return "no session"
	}
	r.addSession(host.Session())
	host.OnClose(func() {
		room.ClearPublisher(host)
		room.Leave(sfu.RolePublisher)
	})
	// The connection first: the host's Receivers and sender-report readers end with it,
	// and Peer.Close waits for them.
	defer func() {
		_ = pc.Close()
		host.Close()
	}()
	if joined, _, _ := room.Hosts(); joined > 1 {
		return "a host joined the room here" // between Want and Join: it is the origin now
	}
	video, err := receivers(pc)
	if err != nil {
		p.log.Warn("relay not started", zap.Error(err))
		return "no connection"
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
		rcv, err := room.Publish(host, sfu.PublishedTrack{Source: t, RID: ridOf(video, recv), Codec: t.Codec(), Kind: t.Kind(), SSRC: uint32(t.SSRC()), WriteRTCP: pc.WriteRTCP})
		if err != nil {
			p.log.Info("relayed track not published", zap.Error(err))
			go drain(t) // pion's buffers must not fill; ends with the connection
			host.Close()
			return
		}
		if !host.Go(rcv.Run) {
			rcv.Abandon()
			return
		}
		host.Go(func() { whip.ReadSenderReports(recv, "", rcv, host) })
	})
	location, err := p.connect(pc, token)
	if err != nil {
		p.log.Warn("relay not started", zap.Error(err))
		return "not connected"
	}
	defer whepDelete(r.client, location, token)
	defer p.tellLayers(room, host, location, token)()
	p.live.Store(true)
	r.Announce() // this relay goes in the directory now, not at the next tick
	relaysStarted.Inc()
	relaysActive.Inc()
	defer relaysActive.Dec()
	p.log.Info("relaying the room from its origin")
	why = p.watch(pc, room, host)
	p.log.Info("relay ended", zap.String("why", why))
	return why
}

// connect makes the WHEP session at the origin: the receive-only offer of receivers,
// answered with the origin's tracks.
func (p *pull) connect(pc *webrtc.PeerConnection, token string) (string, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	case <-p.relays.stop:
		return "", context.Canceled
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-p.relays.stop:
			cancel() // the node closes: do not wait out an origin's answer
		case <-ctx.Done():
		}
	}()
	answer, location, err := whepOffer(ctx, p.relays.client, p.origin.URL, p.room, token, pc.LocalDescription().SDP)
	if err != nil {
		return "", err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		whepDelete(p.relays.client, location, token)
		return "", err
	}
	return location, nil
}

// watch returns, saying why, when the relay should end: the node closes, a host takes the
// room here (the relay's session is replaced), the directory names another origin, the
// connection to the origin fails or stays down (the origin ended the session or died), it
// never connects, or the room has had no viewer on this node for Idle.
func (p *pull) watch(pc *webrtc.PeerConnection, room *sfu.Room, host *sfu.Peer) string {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	started, checked := time.Now(), time.Now()
	var idleSince, downSince time.Time
	connected := false
	for {
		select {
		case <-p.relays.stop:
			return "node closing"
		case <-host.Stopping():
			return "a host publishes to this node"
		case now := <-t.C:
			// The directory is read twice a second: an origin that died is not known as
			// such until ICE gives it up (5 s and more), while its host, failing over,
			// publishes to another node within a few seconds and that node is named at once.
			if now.Sub(checked) >= movedCheck {
				checked = now
				if p.moved() {
					return endMoved
				}
			}
			switch pc.ConnectionState() {
			case webrtc.PeerConnectionStateConnected:
				connected, downSince = true, time.Time{}
			case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
				return endLost
			case webrtc.PeerConnectionStateDisconnected:
				if downSince.IsZero() {
					downSince = now
				} else if now.Sub(downSince) >= disconnectedGrace {
					return endLost
				}
			default:
				if !connected && now.Sub(started) > 15*time.Second {
					return "no connection to the origin within 15s"
				}
			}
			if room.Info().Viewers > 0 || (p.relays.opts.Watching != nil && p.relays.opts.Watching(p.room)) {
				idleSince = time.Time{}
			} else if idleSince.IsZero() {
				idleSince = now
			} else if now.Sub(idleSince) >= p.relays.idle() {
				return "no viewer on this node"
			}
		}
	}
}

// moved reports whether the directory no longer names this relay's origin for the room:
// a later host on another node at once, the origin's entry gone at the second read in a
// row that finds none (a host reconnecting takes it out and puts it back). A directory
// that cannot be read says nothing.
func (p *pull) moved() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	e, ok, err := p.relays.Origin(ctx, p.room)
	switch {
	case err != nil:
		return false
	case !ok:
		p.absent++
		return p.absent >= 2
	}
	p.absent = 0
	return e.Node != p.origin.Node || e.Since != p.origin.Since
}

// drain reads and discards a track the room cannot take.
func drain(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := t.Read(buf); err != nil {
			return
		}
	}
}
