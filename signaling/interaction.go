package signaling

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/signaling/auth"
)

// clockCheckEvery is how often a viewer's clock mapping is checked for a change (a layer
// switch or a host restart moves its timestamps); clockTolerance is how far the capture
// time the last mapping sent would give may be off before a new one is sent.
const (
	clockCheckEvery = 250 * time.Millisecond
	clockTolerance  = 5 * time.Millisecond
)

// interactOver attaches the interaction channel a WHIP or WHEP client opens on its session
// to the hub. A viewer is also sent its media clock mapping, on join and whenever it
// changes, so its page can show each event on the frame it belongs to; a host, the
// simulcast layers some viewer wants (dynacast), so it can stop encoding the rest.
func (s *Server) interactOver(sess session, room string, claims *auth.Claims, log *zap.Logger) {
	if s.hub == nil {
		return
	}
	sess.OnDataChannel(func(dc *webrtc.DataChannel) {
		sub, viewer := sess.(*sfu.Subscriber)
		var layers func(string) error
		if viewer {
			layers = func(name string) error {
				l, err := sfu.ParseLayer(name)
				if err == nil && name == "" {
					err = errors.New(`layer: want q, h or f`)
				}
				if err != nil {
					return err
				}
				log.Debug("viewer layer cap", zap.String("layer", name))
				return sub.SetLayerCap(l)
			}
		}
		conn, err := AttachDataChannel(s.hub, room, claims, dc, layers)
		if err != nil {
			log.Info("data channel refused", zap.String("label", dc.Label()), zap.Error(err))
			return
		}
		if viewer {
			sess.Go(func() { sendMediaClock(sub, conn, sess.Stopping()) })
		}
		if host, ok := sess.(*whip.Session); ok {
			tellLayers(host, conn)
		}
	})
}

// tellLayers keeps a host told which simulcast layers of its video some viewer wants
// (media.layers), from when its simulcast video is on the stage until the session or the
// connection ends. The SFU's callback only notes the latest set; one goroutine sends it,
// so the SFU never waits for the interaction layer, and a set superseded before it went
// out is not sent at all.
func tellLayers(host *whip.Session, conn *datachannel.Conn) {
	var latest atomic.Uint32 // a bit per layer, and toldBit once there is something to tell
	wake := make(chan struct{}, 1)
	stop := host.Room().OnLayerDemand(host.Peer, func(wanted [3]bool) {
		latest.Store(toldBit | uint32(sfu.LayerBits(wanted)))
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	run := func() {
		defer stop()
		var sent uint32
		for {
			select {
			case <-host.Stopping():
				return
			case <-conn.Done():
				return
			case <-wake:
			}
			if bits := latest.Load(); bits != sent {
				conn.SendMediaLayers(layerNames(bits))
				sent = bits
			}
		}
	}
	if !host.Go(run) {
		stop() // the session closed meanwhile
	}
}

// toldBit marks a media.layers set as one the SFU reported (the zero value is none yet).
const toldBit = 1 << 3

// layerNames lists the layers set in bits, lowest first.
func layerNames(bits uint32) []string {
	names := []string{}
	for l := range 3 {
		if bits&(1<<l) != 0 {
			names = append(names, sfu.LayerName(l))
		}
	}
	return names
}

// sendMediaClock keeps a viewer's page told its clock mapping until the session or the
// connection ends.
func sendMediaClock(sub *sfu.Subscriber, conn *datachannel.Conn, stop <-chan struct{}) {
	tick := time.NewTicker(clockCheckEvery)
	defer tick.Stop()
	var last sfu.ClockMapping
	sent := false
	for {
		if m, ok := sub.VideoClock(); ok && (!sent || !sameClock(last, m)) {
			conn.SendMediaClock(datachannel.MediaClockMapping{RTPTimestamp: m.RTPTime, MediaTime: m.Capture.UnixMilli(), ClockRate: m.ClockRate})
			last, sent = m, true
		}
		select {
		case <-stop:
			return
		case <-conn.Done():
			return
		case <-tick.C:
		}
	}
}

// sameClock reports whether mapping b puts b.RTPTime where a already does: a new sender
// report of the same clock, not a new clock.
func sameClock(a, b sfu.ClockMapping) bool {
	if a.ClockRate != b.ClockRate || a.ClockRate == 0 {
		return false
	}
	predicted := a.Capture.Add(time.Duration(int32(b.RTPTime-a.RTPTime)) * time.Second / time.Duration(a.ClockRate))
	d := predicted.Sub(b.Capture)
	return d > -clockTolerance && d < clockTolerance
}
