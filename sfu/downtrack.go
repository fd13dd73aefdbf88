package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/glintlive/glint/simulcast"
)

// keyframeRetry is how often a DownTrack that still waits for a keyframe asks again: a PLI,
// or the keyframe it triggers, can be lost.
const keyframeRetry = time.Second

// minFreezeWatch is how long a viewer must have watched for its freeze rate to be
// measured (viewer_freezes_per_minute): a shorter session says little.
const minFreezeWatch = 10 * time.Second

// DownTrack forwards one Track to one viewer. It is a pion TrackLocal, so pion negotiates it
// like any local track, and it owns the header rewrite that makes every source look like one
// continuous stream to the viewer's decoder.
type DownTrack struct {
	id, streamID string
	track        *Track
	log          *zap.Logger
	lane         atomic.Int32 // the viewer's send lane (laneOf its address); 0 until known

	mu        sync.Mutex
	writer    webrtc.TrackLocalWriter
	writeRTCP rtcpWriter
	ssrc      uint32
	codecs    []webrtc.RTPCodecParameters // negotiated with the viewer
	ready     bool                        // transport connected: packets would reach the viewer
	readyAt   time.Time                   // when ready was set; zero once the first picture's join is measured
	watching  time.Time                   // when the viewer's transport first connected (video)
	freezes   int                         // the viewer's keyframe requests: pictures frozen on loss
	closed    bool

	remb        atomic.Int64 // the viewer's last REMB, bits per second (0: none yet)
	capLayer    atomic.Int32 // the viewer's own cap (WHEP ?layer=, the media.layer message)
	demanded    uint8        // the layers counted in the Track's demand, a bit per layer
	maxLayer    int          // what the allocator grants within the cap
	probeBps    int          // padding probe rate the allocator asks for, 0 for none
	probeOwed   float64      // padding bytes due
	lastProbe   int64        // unix nanos padding was last accounted
	estimate    int          // the viewer's last video budget, for metrics
	source      *Receiver    // the Receiver the munger is joined to
	unsupported *Receiver    // a source whose codec the viewer lacks (warned once)
	payloadType uint8
	lastKeyReq  time.Time
	keyReqFor   *Receiver // the layer lastKeyReq asked a keyframe of
	munger      simulcast.Munger
	vp8         simulcast.VP8Munger // picture ID continuity across layers and hosts
	temporal    simulcast.TemporalFilter
	vp8buf      [maxPacketSize + 1]byte

	hdr           rtp.Header          // reused for every write: no allocation per packet
	ext           [2]rtp.Extension    // capacity for extensions interceptors add (TWCC)
	rtx           [maxPacketSize]byte // NACK answers are copied here from the cache
	rtxPkt        rtp.Packet
	resent        [256]resendMark // recent retransmissions, by output seq
	rtt           rttMeter        // how soon a retransmission may be repeated
	rtxBudget     *rate.Limiter   // retransmissions this viewer's NACKs may cause (rtxRate)
	padded        [64]padMark     // recent padding probes, by output seq, to answer NACKs
	lastViewerPLI time.Time

	// A relay node's DownTrack (Subscriber's layered mode) forwards one simulcast layer,
	// pinned, and nothing while the relay has said that none of its viewers needs it.
	pinned    int           // the layer, -1 for a viewer's DownTrack (its layer is chosen)
	unneeded  bool          // the relay does not need the pinned layer now
	capRaised chan struct{} // a raised cap wakes the allocator (buffered, one)
	allocated atomic.Bool   // an allocator grants the layer; without one the cap is granted

	packets, octets uint32 // for sender reports (RFC 3550 counts wrap at 32 bits)
	switches        int    // layer changes within one host's stream
}

// DownTrackStats is what one viewer's track is doing now.
type DownTrackStats struct {
	Layer    int    `json:"layer"`    // simulcast layer being forwarded, -1 before the first
	MaxLayer int    `json:"maxLayer"` // the layer the allocator grants (within the viewer's cap)
	Estimate int    `json:"estimate"` // bits per second the allocator spends on video, 0 without estimation
	Switches int    `json:"switches"`
	Packets  uint32 `json:"packets"`
	Temporal int    `json:"temporal"` // highest VP8 temporal layer forwarded (3: all)
}

// Stats reports the DownTrack's state.
func (d *DownTrack) Stats() DownTrackStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := DownTrackStats{Layer: -1, MaxLayer: d.maxLayer, Estimate: d.estimate, Switches: d.switches, Packets: d.packets, Temporal: d.temporal.Target()}
	if d.source != nil {
		st.Layer = d.source.layer
	}
	return st
}

// compile-time check that pion can bind a DownTrack.
var _ webrtc.TrackLocal = (*DownTrack)(nil)

func newDownTrack(t *Track, id, streamID string, maxLayer int, log *zap.Logger) *DownTrack {
	d := &DownTrack{id: id, streamID: streamID, track: t, maxLayer: maxLayer, log: log, pinned: -1,
		rtxBudget: rate.NewLimiter(rtxRate, rtxBurst), capRaised: make(chan struct{}, 1)}
	d.capLayer.Store(int32(maxLayer))
	return d
}

// ID, RID, StreamID and Kind identify the track to pion and to the viewer's MediaStream.
func (d *DownTrack) ID() string                { return d.id }
func (d *DownTrack) RID() string               { return "" }
func (d *DownTrack) StreamID() string          { return d.streamID }
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.track.kind }

// Bind is called by pion once the viewer's codecs are known. The DownTrack forwards whatever
// codec the publisher uses, so it keeps all of them and picks a payload type per source.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codecs := ctx.CodecParameters()
	if len(codecs) == 0 {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writer, d.ssrc = ctx.WriteStream(), uint32(ctx.SSRC())
	d.codecs = append([]webrtc.RTPCodecParameters(nil), codecs...)
	d.unsupported = nil
	if r := d.track.Receiver(); r != nil {
		if i := matchCodec(r.Codec(), codecs); i >= 0 {
			return codecs[i], nil
		}
	}
	return codecs[0], nil
}

// Unbind is called by pion when the sender stops.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	d.writer = nil
	d.mu.Unlock()
	return nil
}

// setReady marks the viewer's transport connected: from now on packets reach it, so video
// waits for (and asks for) a keyframe to start from.
func (d *DownTrack) setReady(w rtcpWriter) {
	d.mu.Lock()
	d.ready, d.writeRTCP = true, w
	d.source = nil
	if d.track.kind == webrtc.RTPCodecTypeVideo {
		d.readyAt = time.Now()
		if d.watching.IsZero() {
			d.watching = d.readyAt
		}
	}
	d.mu.Unlock()
	if r := d.firstSource(); r != nil {
		r.RequestKeyframe()
	}
}

// firstSource is the Receiver a DownTrack starting now would join: its pinned layer's, or
// the Track's best.
func (d *DownTrack) firstSource() *Receiver {
	if d.pinned >= 0 {
		return d.track.layers[d.pinned].Load()
	}
	return d.track.Receiver()
}

func (d *DownTrack) close() {
	d.mu.Lock()
	if !d.closed && !d.watching.IsZero() && d.pinned < 0 { // a relay node is no viewer
		if watched := time.Since(d.watching); watched >= minFreezeWatch {
			viewerFreezesPerMinute.Observe(float64(d.freezes) / watched.Minutes())
		}
	}
	d.closed = true
	d.demandLocked(0)
	if d.source != nil && d.source.codec.IsVideo() {
		viewersOnLayer[d.source.layer].Dec()
	}
	d.mu.Unlock()
	d.track.removeDownTrack(d)
}

// demand counts what the viewer wants in its Track's demand (dynacast).
func (d *DownTrack) demand() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.demandLocked(d.wantsLocked())
}

// wantsLocked is what the viewer wants of its Track, a bit per layer: every layer up to its
// cap, which is what it would take if its link allowed (its allocator moves among them as
// the link changes and must find them flowing; one that is not arriving could never be
// chosen), and the layer it receives, until it has switched away, so that a host never
// pauses the picture a viewer still shows.
func (d *DownTrack) wantsLocked() uint8 {
	switch {
	case d.pinned >= 0 && d.unneeded:
		return 0
	case d.pinned >= 0:
		return 1 << d.pinned
	}
	w := uint8(1)<<(d.layerCap()+1) - 1
	if d.source != nil && d.source.codec.IsVideo() {
		w |= 1 << d.source.layer
	}
	return w
}

// demandLocked makes the layers in w (a bit per layer) what the DownTrack counts in its
// Track's demand; none once it is closed.
func (d *DownTrack) demandLocked(w uint8) {
	if d.closed {
		w = 0
	}
	if d.track.kind != webrtc.RTPCodecTypeVideo || d.demanded == w {
		return
	}
	d.track.demand.change(d.demanded, w)
	d.demanded = w
}

// wants reports whether packets of r are for this viewer: its current source, or the layer
// it should move to (its cap, or the best layer still flowing), which it joins at a keyframe.
func (d *DownTrack) wants(r *Receiver, now int64) bool {
	if d.pinned >= 0 {
		return !d.unneeded && r.layer == d.pinned
	}
	return d.source == r || d.track.pick(d.maxLayer, now) == r
}

// writeBatch is the third hop: rewrite a frame's packets of r for this viewer and send them,
// under one lock, returning how many were sent. It never blocks on the viewer: pion's write
// path is a non-blocking UDP send, and a viewer that is not connected yet or uses a codec it
// cannot take simply drops the packets.
func (d *DownTrack) writeBatch(r *Receiver, batch []batchPacket) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(batch) == 0 || !d.wants(r, batch[0].arrival) {
		return 0
	}
	sent := 0
	for i := range batch {
		if d.writeLocked(r, &batch[i].pkt, batch[i].keyframe, batch[i].arrival) {
			sent++
		}
	}
	if d.probeBps > 0 && sent > 0 && batch[len(batch)-1].pkt.Marker {
		sent += d.pad(batch[len(batch)-1].arrival)
	}
	return sent
}

// allocate applies the allocator's choice, made at now: the layer granted (within the
// viewer's cap) and the padding probe rate.
func (d *DownTrack) allocate(layer, temporal, probeBps, budget int, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return // a session closing as it was set up: its demand is already withdrawn
	}
	d.maxLayer = min(layer, d.layerCap())
	d.temporal.SetTarget(temporal)
	if probeBps > 0 && d.probeBps == 0 {
		// A new probe owes from now: counted from the last probe's end, its first frame
		// would carry a burst of padding that queues the viewer's media behind it; counted
		// from its first frame, that frame would carry none, and a short probe of a low
		// layer would send too few packets to be measured.
		d.lastProbe, d.probeOwed = now.UnixNano(), 0
	}
	d.probeBps, d.estimate = probeBps, budget
}

// layerCap is the viewer's own layer cap.
func (d *DownTrack) layerCap() int { return int(d.capLayer.Load()) }

// setCap changes the viewer's cap, and what the viewer wants of its Track with it, at once:
// a host that paused the layers now allowed resumes them. A lower cap applies at once; a
// higher one is only allowed: the allocator, woken at once, climbs to it when the viewer's
// estimate carries it (a viewer without one has it granted here).
func (d *DownTrack) setCap(layer int) {
	old := int(d.capLayer.Swap(int32(layer)))
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.maxLayer > layer, layer > old && !d.allocated.Load():
		d.maxLayer = layer
	case layer > old:
		select {
		case d.capRaised <- struct{}{}:
		default:
		}
	}
	d.demandLocked(d.wantsLocked())
}

// Padding probes: RTP packets with no media and paddingSize bytes of padding, sent after a
// frame's last packet, in the output's sequence (Munger.Pad) so the viewer sees no gap.
// Each costs the probe paddingPacketSize: with its RTP header and transport-wide sequence
// extension it is 8 % more than its padding, which a probe sized on padding alone overshoots.
const (
	paddingSize       = 255
	paddingPacketSize = paddingSize + 12 + 8
	maxPadPerFrame    = 40 // 2.6 Mbit/s at 30 fps
)

// padMark remembers a padding packet's output seq and timestamp.
type padMark struct {
	seq   uint16
	ts    uint32
	valid bool
}

// sendPadding writes one padding-only packet.
func (d *DownTrack) sendPadding(seq uint16, ts uint32) bool {
	h := &d.hdr
	*h = rtp.Header{Version: 2, Padding: true, PaddingSize: paddingSize, PayloadType: d.payloadType,
		SequenceNumber: seq, Timestamp: ts, SSRC: d.ssrc, Extensions: d.ext[:0]}
	_, err := d.writer.WriteRTP(h, nil)
	return err == nil
}

// pad sends the padding due since the last frame at probeBps, and returns how many packets.
func (d *DownTrack) pad(now int64) int {
	if d.lastProbe != 0 && now > d.lastProbe {
		d.probeOwed += float64(d.probeBps) / 8 * float64(now-d.lastProbe) / float64(time.Second)
	}
	d.lastProbe = now
	sent := 0
	for d.probeOwed >= paddingPacketSize && sent < maxPadPerFrame {
		seq, ts, ok := d.munger.Pad()
		if !ok {
			break
		}
		d.padded[seq%uint16(len(d.padded))] = padMark{seq: seq, ts: ts, valid: true}
		if !d.sendPadding(seq, ts) {
			break
		}
		d.probeOwed -= paddingPacketSize
		sent++
	}
	if sent == maxPadPerFrame {
		d.probeOwed = 0 // never burst to catch up: the probe is a rate, not a debt
	}
	return sent
}

func (d *DownTrack) writeLocked(r *Receiver, pkt *rtp.Packet, keyframe bool, arrival int64) bool {
	if !d.ready || d.closed || d.writer == nil {
		return false
	}
	if d.source != r && !d.join(r, keyframe, arrival) {
		return false
	}
	if len(pkt.Payload) == 0 {
		// Padding-only: the publisher's bandwidth probe, meaningless to this viewer.
		d.munger.Skip(pkt.SequenceNumber)
		return false
	}
	payload := pkt.Payload
	if r.codec == simulcast.CodecVP8 {
		if desc, _, err := simulcast.ParseVP8Descriptor(payload); err == nil {
			if fwd, dropped := d.temporal.Filter(desc, keyframe); !fwd {
				if dropped {
					d.vp8.DropPicture(desc)
				}
				d.munger.Skip(pkt.SequenceNumber) // a temporal layer this viewer does without
				return false
			}
		}
		var ok bool
		if payload, ok = d.vp8.Rewrite(d.vp8buf[:], payload); !ok {
			d.munger.Skip(pkt.SequenceNumber) // a malformed packet leaves no hole to NACK
			return false
		}
	}
	seq, ts, ok := d.munger.Rewrite(pkt.SequenceNumber, pkt.Timestamp, arrival, r.clockRate)
	if !ok {
		return false
	}
	return d.send(&pkt.Header, seq, ts, payload)
}

// join splices a new source in. Video may only start at a keyframe: until one arrives the
// DownTrack drops packets and asks for one (coalesced in the Receiver).
func (d *DownTrack) join(r *Receiver, keyframe bool, arrival int64) bool {
	if d.unsupported == r {
		return false // warned once; asking for keyframes would only burden the publisher
	}
	i := matchCodec(r.Codec(), d.codecs)
	if i < 0 {
		d.log.Warn("viewer cannot receive the publisher's codec", zap.String("codec", r.Codec().MimeType))
		d.unsupported = r
		return false
	}
	if r.codec.IsVideo() && !keyframe {
		now := time.Unix(0, arrival)
		// keyframeRetry paces asking one layer again; a switch to another layer asks at
		// once (the Receiver coalesces what reaches the publisher), or a viewer moving down
		// two layers under congestion would wait out the first layer's retry.
		if r != d.keyReqFor || now.Sub(d.lastKeyReq) >= keyframeRetry {
			d.lastKeyReq, d.keyReqFor = now, r
			go r.RequestKeyframe() // off the fan-out path: it may write RTCP
		}
		return false
	}
	if d.source != nil && d.source.session == r.session {
		layerSwitches.Inc()
		d.switches++
	}
	if r.codec.IsVideo() {
		if d.source != nil {
			viewersOnLayer[d.source.layer].Dec()
		}
		viewersOnLayer[r.layer].Inc()
		if !d.readyAt.IsZero() {
			viewerJoinSeconds.Observe(time.Unix(0, arrival).Sub(d.readyAt).Seconds())
			d.readyAt = time.Time{}
		}
	}
	d.source, d.payloadType = r, uint8(d.codecs[i].PayloadType)
	d.demandLocked(d.wantsLocked()) // the layer left may be paused now
	d.munger.Switch()
	d.vp8.Switch()
	return true
}

// send writes one rewritten packet. The header is rebuilt in d.hdr: no extensions are
// carried over, because the publisher's extension IDs mean nothing on the viewer's session.
func (d *DownTrack) send(in *rtp.Header, seq uint16, ts uint32, payload []byte) bool {
	h := &d.hdr
	*h = rtp.Header{
		Version:        2,
		Marker:         in.Marker,
		PayloadType:    d.payloadType,
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           d.ssrc,
		CSRC:           in.CSRC,
		Extensions:     d.ext[:0],
	}
	if _, err := d.writer.WriteRTP(h, payload); err != nil {
		packetsDropped.Inc()
		return false
	}
	d.packets++
	d.octets += uint32(len(payload))
	return true
}
