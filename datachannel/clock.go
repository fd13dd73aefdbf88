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
