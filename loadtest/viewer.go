package loadtest

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// freezeGap is the gap between two frames that counts as a visible freeze.
const freezeGap = 200 * time.Millisecond

// viewer watches over WHEP and measures what arrives. Counters are atomic so the reporter
// can read them while the read loops run.
type viewer struct {
	sess    *session
	stamps  *arrivals // when each packet reached the socket
	latency frameLatency
	joins   *Histogram
	started time.Time
	wg      sync.WaitGroup

	joined    atomic.Int64 // join duration (ns), 0 until the first frame
	frames    atomic.Uint64
	unstamped atomic.Uint64 // frames timed at the read loop: a packet without its arrival stamp
	freezes   atomic.Uint64
	packets   atomic.Uint64 // video and audio
	bytes     atomic.Uint64
	received  atomic.Uint64 // unique video packets
	expected  atomic.Uint64 // video packets the sequence numbers say were sent
}

func startViewer(ctx context.Context, client *http.Client, endpoint, token string, latency frameLatency, joins *Histogram) (*viewer, error) {
	v := &viewer{latency: latency, joins: joins, stamps: &arrivals{}}
	api, err := newAPI(endpoint, v.stamps)
	if err != nil {
		return nil, err
	}
	v.started = time.Now() // join time is the server's and the network's, not building the API
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			_ = pc.Close()
			return nil, err
		}
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		v.wg.Add(2)
		go func() { defer v.wg.Done(); drainReceiverRTCP(r) }()
		go func() {
			defer v.wg.Done()
			if t.Kind() == webrtc.RTPCodecTypeVideo {
				v.readVideo(t)
			} else {
				v.readAudio(t)
			}
		}()
	})
	connected := onConnected(pc)
	v.sess, err = negotiate(ctx, client, pc, endpoint, token)
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	if err := waitConnected(ctx, pc, connected); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

// readVideo measures per frame: the SEI in the frame's first packets gives its send time,
// the marker packet completes it; the frame arrived when the last of its packets reached
// the socket. It reuses one buffer and one rtp.Packet.
func (v *viewer) readVideo(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	var loss lossTracker
	var frameTS uint32
	var frameSent int64
	var frameArrived time.Time
	var frameUnstamped bool
	var frameKey bool
	var lastFrame time.Time
	keySeen := false
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		now := time.Now()
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		v.packets.Add(1)
		v.bytes.Add(uint64(n))
		if loss.mark(pkt.SequenceNumber) {
			v.received.Add(1)
		}
		v.expected.Store(loss.expected())
		if sent, ok := findTimingSEI(pkt.Payload); ok {
			frameTS, frameSent, frameKey, frameArrived, frameUnstamped = pkt.Timestamp, sent, false, time.Time{}, false
		}
		if pkt.Timestamp == frameTS {
			at, ok := v.stamps.lookup(pkt.SSRC, pkt.SequenceNumber)
			if !ok {
				at, frameUnstamped = now, true // no stamp: the read time is all there is
			}
			if at.After(frameArrived) {
				frameArrived = at
			}
		}
		key := startsKeyframe(pkt.Payload)
		if key && pkt.Timestamp == frameTS {
			frameKey = true
		}
		if !keySeen && key {
			// A player can show nothing before a keyframe: join time runs to the first one.
			keySeen = true
			v.joined.Store(int64(now.Sub(v.started)))
			v.joins.Record(now.Sub(v.started))
		}
		if !pkt.Marker || frameSent == 0 || pkt.Timestamp != frameTS {
			continue
		}
		sent := time.Unix(0, frameSent)
		v.latency.record(frameArrived.Sub(sent), now.Sub(sent), frameKey)
		if frameUnstamped {
			v.unstamped.Add(1)
		}

		frameSent = 0
		v.frames.Add(1)
		if !lastFrame.IsZero() && now.Sub(lastFrame) > freezeGap {
			v.freezes.Add(1)
		}
		lastFrame = now
	}
}

func (v *viewer) readAudio(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			return
		}
		v.packets.Add(1)
		v.bytes.Add(uint64(n))
	}
}

func (v *viewer) close() {
	v.sess.close()
	v.wg.Wait()
}

func drainReceiverRTCP(r *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := r.Read(buf); err != nil {
			return
		}
	}
}

// findTimingSEI looks for the timing SEI in an RTP payload: a single NAL unit or inside a
// STAP-A (RFC 6184 §5.7.1).
func findTimingSEI(p []byte) (int64, bool) {
	if len(p) == 0 {
		return 0, false
	}
	switch p[0] & 0x1f {
	case 6:
		sent, _, err := parseTimingSEI(p)
		return sent, err == nil
	case 24:
		for i := 1; i+2 <= len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return 0, false
			}
			if sent, _, err := parseTimingSEI(p[i : i+size]); err == nil {
				return sent, true
			}
			i += size
		}
	}
	return 0, false
}

// startsKeyframe reports whether an H.264 RTP payload carries an SPS or the start of an IDR
// slice (single NAL, STAP-A or FU-A). The load generator judges servers from the wire only,
// so it keeps its own small parser rather than importing the server's.
func startsKeyframe(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case 5, 7:
		return true
	case 24:
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			if nt := p[i] & 0x1f; nt == 5 || nt == 7 {
				return true
			}
			i += size
		}
	case 28:
		return p[1]&0x80 != 0 && p[1]&0x1f == 5
	}
	return false
}

// lossTracker counts unique sequence numbers against the range seen, so a retransmission
// that fills a gap is not loss, and a duplicate is not extra delivery.
type lossTracker struct {
	seen    [1 << 16 / 64]uint64
	started bool
	first   int64
	highest int64 // extended
}

// mark records seq and reports whether it is new.
func (l *lossTracker) mark(seq uint16) bool {
	if !l.started {
		l.started, l.first, l.highest = true, int64(seq), int64(seq)
	} else {
		ext := l.highest + int64(int16(seq-uint16(l.highest)))
		if ext > l.highest {
			// Forget the half of the ring the window moves into, so old marks never alias.
			for s := l.highest + 1; s <= ext && s-l.highest <= 1<<15; s++ {
				l.clear(uint16(s + 1<<15))
			}
			l.highest = ext
		} else if l.highest-ext >= 1<<15 || ext < l.first {
			// Too old to judge, or from before the range expected() counts: marking it
			// would count a packet received that was never expected, hiding a loss.
			return false
		}
	}
	i, bit := seq/64, uint64(1)<<(seq%64)
	if l.seen[i]&bit != 0 {
		return false
	}
	l.seen[i] |= bit
	return true
}

func (l *lossTracker) clear(seq uint16) { l.seen[seq/64] &^= 1 << (seq % 64) }

func (l *lossTracker) expected() uint64 {
	if !l.started {
		return 0
	}
	return uint64(l.highest - l.first + 1)
}
