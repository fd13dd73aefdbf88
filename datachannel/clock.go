package datachannel

import "time"

// MediaClock is the room's media clock as the interaction layer sees it. The SFU side
// implements it from RTCP sender reports (and abs-capture-time): LiveEdge is the capture
// time, in unix milliseconds on the publisher's clock, of the newest frame the room has
// forwarded. ok is false while the room has no media.
type MediaClock interface {
	LiveEdge() (mediaTime int64, ok bool)
}

// MediaClockFunc adapts a function to MediaClock.
type MediaClockFunc func() (int64, bool)

// LiveEdge implements MediaClock.
func (f MediaClockFunc) LiveEdge() (int64, bool) { return f() }

// Clocks gives the hub each room's media clock. It may return nil for a room without
// media; events are then stamped with the server's wall clock, which is what the live
// edge approximates.
type Clocks func(room string) MediaClock

// stamp returns the mediaTime for an event accepted now in a room with clock mc.
func stamp(mc MediaClock, now time.Time) int64 {
	if mc != nil {
		if t, ok := mc.LiveEdge(); ok {
			return t
		}
	}
	return now.UnixMilli()
}

// actedEarliest and actedLatest bound a client's own mediaTime around the live edge (ms):
// a viewer acts on a frame up to a few seconds old (an LL-HLS viewer's), a host on what
// its camera sees now, which the room has not forwarded yet (encode and network: ~4–120
// ms). A clock further off is clamped, so that no client can place an event far from now.
const (
	actedEarliest = 5000
	actedLatest   = 1000
)

// actedAt is the mediaTime of an event a client caused: the capture time of what it saw
// when it acted (its envelope's mediaTime), so that players show the event on that frame;
// the live edge when it sent none. Without this the event would be stamped with the live
// edge, which lags what a host saw by its encode and uplink delay, and every viewer would
// show the host's alert frames before the host fired it.
func actedAt(sent int64, mc MediaClock, now time.Time) int64 {
	edge := stamp(mc, now)
	if sent <= 0 {
		return edge
	}
	return min(max(sent, edge-actedEarliest), edge+actedLatest)
}

// MediaClockMapping tells one WebRTC viewer how its own outgoing RTP timestamps map to
// the capture clock: the frame with RTPTimestamp was captured at MediaTime (unix ms).
type MediaClockMapping struct {
	RTPTimestamp uint32 `json:"rtpTimestamp"`
	MediaTime    int64  `json:"mediaTime"`
	ClockRate    uint32 `json:"clockRate"`
}

// SendMediaClock sends this connection a media.clock message (docs/PROTOCOL.md, Media
// time). The SFU wiring calls it for a WebRTC viewer on join, after every layer switch
// and after a publisher restart, since its DownTrack rewrites RTP timestamps. It never
// blocks and, being rare and essential, is never skipped by the slow-reader policy.
func (c *Conn) SendMediaClock(m MediaClockMapping) {
	c.reply(TypeMediaClock, "", m)
}
