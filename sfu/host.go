package sfu

import (
	"time"

	"go.uber.org/zap"
)

// Why a room's host is off the stage (HostState.Reason).
const (
	// HostStopped: the host ended its session: WHIP DELETE, the RTMP connection closed,
	// or the server shut down.
	HostStopped = "stopped"
	// HostGone: the host vanished without saying so: nothing (no RTP, no RTCP) arrived for
	// Config.HostTimeout, or its session failed (ICE) or was reaped.
	HostGone = "gone"
)

// HostState is whether a room's host is on the stage: what the interaction layer tells
// viewers as room.live and room.ended (docs/PROTOCOL.md, Room state).
type HostState struct {
	// Live: the host session is sending media.
	Live bool
	// Reason says why the host is not live: HostStopped, HostGone, or "" while no host
	// has gone live since the room opened.
	Reason string
	// Since is when the state last changed.
	Since time.Time
	// Epoch counts the times a host went live in this room: a change while live means the
	// host went and came back between two looks.
	Epoch uint64
	// Reduced says why viewers get less than the host sends ("" when they do not): its
	// ingest shed work to keep up (the RTMP ladder lowered its preset or dropped its top
	// rung). The interaction layer tells viewers (room.quality).
	Reduced string
}

// Host reports the room's host state. It takes no lock: the interaction layer polls it
// for every room every 50 ms.
func (r *Room) Host() HostState {
	if h := r.hostNow.Load(); h != nil {
		return *h
	}
	return HostState{}
}

// setHost changes the host state; called with r.mu held.
func (r *Room) setHost(h HostState) {
	r.host = h
	r.hostNow.Store(&h)
}

// SetHostReduced records why host session p's viewers get less than it sends (see
// HostState.Reduced), or with why "" that they get all of it again; a session that is not
// the room's host changes nothing. It holds until said otherwise or the session ends: a
// new host session starts with all it sends.
func (r *Room) SetHostReduced(p *Peer, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.publisher != p {
		return
	}
	if why == "" {
		if r.reducedBy == p {
			r.log.Info("the host's picture is no longer reduced for its viewers")
		}
		r.forgetReduced(p)
		return
	}
	r.reduced, r.reducedBy = why, p
	h := r.host
	h.Reduced = why
	r.setHost(h)
	r.log.Info("the host's picture is reduced for its viewers", zap.String("why", why))
}

// forgetReduced drops what SetHostReduced said of session p, which is no longer the host;
// called with r.mu held.
func (r *Room) forgetReduced(p *Peer) {
	if p == nil || r.reducedBy != p {
		return
	}
	r.reduced, r.reducedBy = "", nil
	if r.host.Reduced != "" {
		h := r.host
		h.Reduced = ""
		r.setHost(h)
	}
}

// reducedFor is what SetHostReduced said of session p; called with r.mu held.
func (r *Room) reducedFor(p *Peer) string {
	if r.reducedBy != p {
		return ""
	}
	return r.reduced
}

// hostLive records that host session p is sending media. A session that is not (or no
// longer) the room's host changes nothing.
func (r *Room) hostLive(p *Peer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.publisher != p || r.host.Live {
		return
	}
	r.setHost(HostState{Live: true, Since: time.Now(), Epoch: r.host.Epoch + 1, Reduced: r.reducedFor(p)})
	r.log.Info("host live", zap.Uint64("epoch", r.host.Epoch))
}

// hostEnded takes the host off the stage for reason if session p is live on it; called
// with r.mu held. A host session already declared gone that then ends by its owner's hand
// (WHIP DELETE after a network blink, say) turns the state to stopped: left gone, it
// would tell viewers forever that the host may come back.
func (r *Room) hostEnded(p *Peer, reason string) {
	if r.publisher != p {
		return
	}
	if !r.host.Live && (r.host.Reason != HostGone || reason != HostStopped) {
		return
	}
	// Reduced stays with the session: a host that went silent and comes back is as it was.
	r.setHost(HostState{Reason: reason, Since: time.Now(), Epoch: r.host.Epoch, Reduced: r.reducedFor(p)})
	if reason == HostGone {
		hostsGone.Inc()
	}
	r.log.Info("host off the stage", zap.String("reason", reason))
}

// liveness is the host-silence detector of one host session: it turns the time the last
// packet (RTP or RTCP) arrived into live/gone transitions. A live sender never goes
// quiet for long: browsers send RTCP sender reports about every second even when muted
// (muted video still sends black frames, DTX audio still reports), and pion sends them
// every second too; a killed process sends nothing more. Times are unix nanoseconds, so
// it is tested with a fake clock.
type liveness struct {
	timeout int64
	live    bool
}

// update returns whether the session is live at now, having last been heard at last (0:
// never), and whether that changed since the previous update.
func (l *liveness) update(last, now int64) (live, changed bool) {
	live = last != 0 && now-last < l.timeout
	changed = live != l.live
	l.live = live
	return live, changed
}

// watchHost runs on host session p (see SetPublisher) until it closes: it puts the host
// on the stage when its media starts or comes back and takes it off, as gone, once
// nothing has arrived for HostTimeout. The session itself is left to ICE: a host whose
// network only blinked keeps its session and comes straight back.
func (r *Room) watchHost(p *Peer) {
	timeout := r.sfu.cfg.HostTimeout
	l := liveness{timeout: int64(timeout)}
	// A tenth of the timeout: detection is late by at most that.
	tick := time.NewTicker(timeout / 10)
	defer tick.Stop()
	for {
		select {
		case <-p.stopping:
			return
		case <-p.kick: // the first packet: go live now, not at the next tick
		case <-tick.C:
		}
		live, changed := l.update(p.heard.Load(), time.Now().UnixNano())
		switch {
		case !changed:
		case live:
			r.hostLive(p)
		default:
			r.mu.Lock()
			r.hostEnded(p, HostGone)
			r.mu.Unlock()
		}
	}
}
