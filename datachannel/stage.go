package datachannel

import "time"

// Why a room's host is off the stage: the reason of a room.ended event.
const (
	// EndedStopped: the host ended its broadcast (WHIP DELETE, RTMP disconnect).
	EndedStopped = "stopped"
	// EndedGone: the host vanished without ending (killed, network lost); it may come back.
	EndedGone = "gone"
	// EndedNotStarted: no host has gone live since the room opened (on join and sync only).
	EndedNotStarted = "not_started"
)

// HostState is a room's host as the interaction layer sees it. The SFU side implements it
// (see Options.Host); the interaction layer never depends on the SFU.
type HostState struct {
	// Live: a host is sending media.
	Live bool
	// Reason: EndedStopped or EndedGone when not live; "" means EndedNotStarted.
	Reason string
	// Since is when the state last changed; zero if unknown.
	Since time.Time
	// Epoch counts the times a host went live in the room, so a host that went and came
	// back between two looks is still seen as having restarted.
	Epoch uint64
	// Reduced says why viewers get less than the host sends ("" when they do not): the
	// server shed transcoding work to keep up. Told as room.quality.
	Reduced string
}

// roomQuality is the payload of room.quality.
type roomQuality struct {
	Reduced bool   `json:"reduced"`
	Reason  string `json:"reason,omitempty"`
}

// qualityKey is the state key of room.quality.
const qualityKey = "quality"

// roomLive is the payload of room.live.
type roomLive struct {
	Since int64  `json:"since,omitempty"` // unix ms the host went live
	Epoch uint64 `json:"epoch"`
}

// roomEnded is the payload of room.ended.
type roomEnded struct {
	Reason string `json:"reason"`
	Since  int64  `json:"since,omitempty"` // unix ms the host left the stage
}

// stageKey is the state key of room.live / room.ended: a slow reader gets the latest.
const stageKey = "room"

// pollHost reads the room's host state; ok is false when the hub has no Host option.
func (r *room) pollHost() (HostState, bool) {
	if r.hub.opts.Host == nil {
		return HostState{}, false
	}
	st := r.hub.opts.Host(r.name)
	if r.relaying() {
		// This node's host is the relay; what the origin's host's viewers get less of is
		// in the reports of the node it relays from (not any node's: a former origin that
		// has not noticed its host is gone may still report).
		st.Reduced = ""
		if origin := r.hub.opts.Origin; st.Live && origin != nil {
			if node := origin(r.name); node != "" {
				st.Reduced = r.remotePresence.reducedAt(node, r.hub.now())
			}
		}
	}
	return st, true
}

// checkHost tells every connection when the host goes live or leaves the stage. Polled
// every tick (50 ms), like presence. A host who left and came back between two polls (a
// new epoch) is announced as live again; a host replaced by its own reconnecting session
// stays live on the SFU side, so viewers see nothing of it. A host off the stage whose
// reason changes (gone, then stopped by a WHIP DELETE) is announced again with the new one.
// A change of what viewers get (HostState.Reduced) is told as room.quality.
func (r *room) checkHost() {
	st, ok := r.pollHost()
	if !ok {
		return
	}
	was := r.host
	r.host = st
	if hostChanged(was, st) {
		typ, payload := stageEvent(st)
		r.broadcast(typ, "", payload, classState, stageKey)
	}
	if st.Reduced != was.Reduced {
		r.broadcast(TypeRoomQuality, "", qualityEvent(st), classState, qualityKey)
	}
}

// qualityEvent is the room.quality payload for st.
func qualityEvent(st HostState) roomQuality {
	return roomQuality{Reduced: st.Reduced != "", Reason: st.Reduced}
}

// hostChanged reports whether viewers who were told was must be told now: live or not,
// a new epoch while live, a new reason while not.
func hostChanged(was, now HostState) bool {
	if was.Live != now.Live {
		return true
	}
	if now.Live {
		return now.Epoch != was.Epoch
	}
	return now.Reason != was.Reason
}

// stageEvent is the room.live or room.ended message for st.
func stageEvent(st HostState) (string, any) {
	var since int64
	if !st.Since.IsZero() {
		since = st.Since.UnixMilli()
	}
	if st.Live {
		return TypeRoomLive, roomLive{Since: since, Epoch: st.Epoch}
	}
	reason := st.Reason
	if reason == "" {
		reason = EndedNotStarted
	}
	return TypeRoomEnded, roomEnded{Reason: reason, Since: since}
}
