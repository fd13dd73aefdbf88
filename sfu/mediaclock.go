package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// mediaClock is a Receiver's map from its RTP timestamps to the publisher's capture wall
// clock, from the publisher's last RTCP sender report, and the newest timestamp received:
// together, the capture time of the frame at the live edge. Interaction events are stamped
// with it, so they line up with the frame a viewer sees.
type mediaClock struct {
	newest atomic.Uint32 // newest RTP timestamp received (wrap-aware)
	seen   atomic.Bool

	mu      sync.Mutex
	haveSR  bool
	srRTP   uint32
	srWall  time.Time
	clockHz uint32
}

// onPacket notes a packet's timestamp; per packet, so two atomics and no lock.
func (c *mediaClock) onPacket(ts uint32) {
	if !c.seen.Load() {
		c.newest.Store(ts)
		c.seen.Store(true)
		return
	}
	if int32(ts-c.newest.Load()) > 0 {
		c.newest.Store(ts) // one writer (the Receiver's goroutine): no lost update
	}
}

func (c *mediaClock) onSenderReport(sr *rtcp.SenderReport, clockHz uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.haveSR, c.srRTP, c.srWall, c.clockHz = true, sr.RTPTime, NTPTime(sr.NTPTime), clockHz
}

// captureTime maps an RTP timestamp to the capture wall clock; false before the first
// sender report.
func (c *mediaClock) captureTime(ts uint32) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.haveSR || c.clockHz == 0 {
		return time.Time{}, false
	}
	ticks := int64(int32(ts - c.srRTP)) // within ±half the timestamp space of the report
	return c.srWall.Add(time.Duration(ticks) * time.Second / time.Duration(c.clockHz)), true
}

// liveEdge is the capture time of the newest frame received.
func (c *mediaClock) liveEdge() (time.Time, bool) {
	if !c.seen.Load() {
		return time.Time{}, false
	}
	return c.captureTime(c.newest.Load())
}

// unixToNTP is the seconds from NTP's epoch (1900) to Unix's (1970).
const unixToNTP = 2_208_988_800

// NTPTime converts a 64-bit NTP timestamp (seconds since 1900, 32.32 fixed point), as
// RTCP sender reports carry it.
func NTPTime(ntp uint64) time.Time {
	secs := int64(ntp>>32) - unixToNTP
	frac := int64(ntp & 0xffffffff)
	return time.Unix(secs, frac*1e9>>32)
}

// NTP is t as a 64-bit NTP timestamp, for the sender reports a non-WebRTC source makes.
func NTP(t time.Time) uint64 {
	secs := uint64(t.Unix() + unixToNTP)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// LiveEdge reports the capture time, on the publisher's wall clock, of the newest video
// frame the room received: what "now" is in the broadcast. It is false while nobody
// publishes video or before the publisher's first sender report.
func (r *Room) LiveEdge() (time.Time, bool) {
	rcv := r.video.Receiver()
	if rcv == nil {
		return time.Time{}, false
	}
	return rcv.clock.liveEdge()
}

// ClockMapping is one viewer's map from the RTP timestamps it receives to the publisher's
// capture clock: the frame with timestamp RTPTime was captured at Capture, and timestamps
// advance ClockRate a second. DownTracks rewrite timestamps, and a browser shows a page a
// frame's rtpTimestamp but not its capture time, so this is what a viewer needs to turn an
// event's mediaTime into "show on this frame". It changes when the viewer switches layer
// or the host reconnects.
type ClockMapping struct {
	RTPTime   uint32    `json:"rtpTime"`
	Capture   time.Time `json:"capture"`
	ClockRate uint32    `json:"clockRate"`
}

// clockMapping is the DownTrack's current mapping, false before its source has a sender
// report or before it forwards anything.
func (d *DownTrack) clockMapping() (ClockMapping, bool) {
	d.mu.Lock() // then the source's clock: nothing takes them the other way round
	defer d.mu.Unlock()
	src := d.source
	if src == nil || !d.munger.Started() {
		return ClockMapping{}, false
	}
	src.clock.mu.Lock()
	defer src.clock.mu.Unlock()
	if !src.clock.haveSR {
		return ClockMapping{}, false
	}
	return ClockMapping{RTPTime: d.munger.OutputTS(src.clock.srRTP), Capture: src.clock.srWall, ClockRate: src.clock.clockHz}, true
}

// VideoClock reports the viewer's video clock mapping (see ClockMapping).
func (s *Subscriber) VideoClock() (ClockMapping, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, dt := range s.downTracks {
		if dt.Kind() == webrtc.RTPCodecTypeVideo {
			return dt.clockMapping()
		}
	}
	return ClockMapping{}, false
}
