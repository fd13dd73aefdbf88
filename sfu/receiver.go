package sfu

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/simulcast"
)

// TrackSource is where a Receiver reads RTP from. pion's *webrtc.TrackRemote satisfies it;
// tests and non-WebRTC ingest (RTMP) can supply their own.
type TrackSource interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// PublishedTrack describes one track a publisher sends.
type PublishedTrack struct {
	Source TrackSource
	// RID names the simulcast layer ("" without simulcast).
	RID   string
	Codec webrtc.RTPCodecParameters
	Kind  webrtc.RTPCodecType
	SSRC  uint32
	// WriteRTCP sends feedback (PLI) to the publisher; nil when the source cannot take any.
	WriteRTCP func([]rtcp.Packet) error
}

// Receiver reads one published track, keeps its retransmission cache and feeds its Track.
type Receiver struct {
	track     *Track
	layer     int
	session   *Peer        // the host session it belongs to (nil for library sources)
	lastRead  atomic.Int64 // unix nanos of the last media packet: a layer that stops is skipped
	created   int64        // unix nanos: a layer with no media yet counts as flowing for layerIdle
	src       PublishedTrack
	codec     simulcast.Codec
	clockRate uint32
	cache     *packetCache
	log       *zap.Logger
	interval  time.Duration

	pliMu      sync.Mutex
	lastPLI    time.Time
	pliPending bool
	pliTimer   *time.Timer
	closed     bool

	clock mediaClock // RTP timestamps to capture time, from the publisher's sender reports
	fan   fanState   // the parallel fan-out's bookkeeping (Run's goroutine only)
	load  loadMeter  // how busy forwarding keeps Run's goroutine: room capacity

	// The layer's bitrate, measured over rateWindow by Run and read by viewers' allocators.
	rate      atomic.Int64 // bits per second
	rateStart int64
	rateBytes int64
	tidRate   [numTemporal]atomic.Int64 // per VP8 temporal layer, bits per second
	tidBytes  [numTemporal]int64
}

// rateWindow is how long a Receiver's bitrate is averaged over.
const rateWindow = 500 * time.Millisecond

func newReceiver(t *Track, src PublishedTrack, cfg *Config, log *zap.Logger) *Receiver {
	codec := simulcast.CodecFromMime(src.Codec.MimeType)
	size := cfg.AudioCachePackets
	if codec.IsVideo() {
		size = cfg.VideoCachePackets
	}
	return &Receiver{
		track:     t,
		src:       src,
		codec:     codec,
		clockRate: src.Codec.ClockRate,
		cache:     newPacketCache(size),
		log:       log,
		interval:  cfg.KeyframeInterval,
		created:   time.Now().UnixNano(),
	}
}

// Codec returns the negotiated codec of the published track.
func (r *Receiver) Codec() webrtc.RTPCodecParameters { return r.src.Codec }

// Run is the first hop: one goroutine per published track reads, caches and fans out.
// Video is handed on a frame at a time (see frameBatch); nothing is allocated per packet.
func (r *Receiver) Run() {
	defer r.stop()
	size := 1 // audio: one packet is one frame
	if r.codec.IsVideo() {
		size = maxBatch
	}
	b := newFrameBatch(size)
	failures := 0
	for {
		s := &b.slots[b.n]
		n, _, err := r.src.Source.Read(s.buf[:])
		if err != nil {
			// A stray packet (say, an unnegotiated payload type from a buggy encoder) must
			// not end the broadcast: only the end of the stream does. The failure cap is a
			// backstop against a source that keeps failing without saying it has ended.
			if endOfStream(err) || failures == maxReadFailures {
				return
			}
			failures++
			packetsMalformed.Inc()
			continue
		}
		failures = 0
		now := time.Now().UnixNano()
		if r.session != nil {
			// Any packet, padding included, shows the host is still there (see watchHost).
			r.session.heardAt(now)
		}
		if err := s.pkt.Unmarshal(s.buf[:n]); err != nil {
			packetsMalformed.Inc()
			continue
		}
		r.cache.put(s.pkt.SequenceNumber, s.buf[:n])
		s.n, s.arrival = n, now
		if len(s.pkt.Payload) > 0 {
			// Padding-only packets (the encoder's bandwidth probes) say nothing about the
			// layer: a browser keeps padding on a layer it has stopped encoding, and a
			// layer that looked alive on padding alone kept viewers waiting for keyframes
			// that never came.
			quiet := s.arrival-r.lastRead.Swap(s.arrival) > int64(rateWindow)
			r.clock.onPacket(s.pkt.Timestamp)
			r.measure(n, s.pkt.Payload, s.arrival, quiet)
		}
		s.keyframe = r.codec.IsVideo() && len(s.pkt.Payload) > 0 && simulcast.IsKeyframeStart(r.codec, s.pkt.Payload)
		r.collect(b)
	}
}

// collect adds the packet just read (b.slots[b.n]) to the batch and forwards what is due
// (see frameBatch for when).
func (r *Receiver) collect(b *frameBatch) {
	s := &b.slots[b.n]
	seq := s.pkt.SequenceNumber
	inOrder := !b.started || seq == b.lastSeq+1
	if !b.started || int16(seq-b.lastSeq) > 0 {
		b.lastSeq, b.started = seq, true
	}
	alone := !inOrder || len(s.pkt.Payload) == 0
	if b.n > 0 {
		prev := &b.slots[b.n-1]
		if alone || s.pkt.Timestamp != b.slots[0].pkt.Timestamp || s.arrival-prev.arrival > int64(batchGap) {
			r.track.forwardBatch(r, b.slots[:b.n])
			b.moveToFront(b.n)
			s = &b.slots[0]
		}
	}
	b.n++
	if alone || s.pkt.Marker || b.n == len(b.slots) {
		r.track.forwardBatch(r, b.slots[:b.n])
		b.n = 0
	}
}

// measure accumulates the layer's bitrate, and for a VP8 stream with temporal layers each
// temporal layer's; it runs on the Run goroutine only. After a quiet spell (the layer was
// paused, see dynacast.go) a new window starts: averaged over the pause, the layer would
// read as almost free. Until that window ends the rate it had before stands.
func (r *Receiver) measure(n int, payload []byte, now int64, quiet bool) {
	if r.rateStart == 0 || quiet {
		r.rateStart, r.rateBytes = now, 0
		r.tidBytes = [numTemporal]int64{}
	}
	r.rateBytes += int64(n)
	if r.codec == simulcast.CodecVP8 && len(payload) > 0 {
		if d, _, err := simulcast.ParseVP8Descriptor(payload); err == nil && d.HasTID && d.TID < numTemporal {
			r.tidBytes[d.TID] += int64(n)
		}
	}
	if el := now - r.rateStart; el >= int64(rateWindow) {
		r.rate.Store(r.rateBytes * 8 * int64(time.Second) / el)
		for t := range r.tidBytes {
			r.tidRate[t].Store(r.tidBytes[t] * 8 * int64(time.Second) / el)
			r.tidBytes[t] = 0
		}
		r.rateStart, r.rateBytes = now, 0
	}
}

// numTemporal is how many VP8 temporal layers are measured (L1T3, what browsers send).
const numTemporal = 3

// TemporalRates reports the bitrate of each VP8 temporal layer (0, 1, 2), all 0 for a
// stream without temporal layers or that is not flowing.
func (r *Receiver) TemporalRates(now int64) (rates [numTemporal]int) {
	if !r.flowing(now) {
		return rates
	}
	for t := range rates {
		rates[t] = int(r.tidRate[t].Load())
	}
	return rates
}

// Bitrate is the layer's recent bitrate in bits per second, 0 when it is not flowing.
func (r *Receiver) Bitrate(now int64) int {
	if !r.flowing(now) {
		return 0
	}
	return int(r.rate.Load())
}

// flowing reports whether the layer has delivered media recently, or has only just been
// attached and not had the chance yet.
func (r *Receiver) flowing(now int64) bool {
	last := r.lastRead.Load()
	if last == 0 {
		last = r.created
	}
	return now-last < int64(layerIdle)
}

// Abandon detaches a Receiver whose Run will never start (its session closed first).
func (r *Receiver) Abandon() { r.stop() }

// Layer is the simulcast layer the Receiver feeds.
func (r *Receiver) Layer() int { return r.layer }

// maxReadFailures consecutive read errors end a Receiver whose source never says EOF.
const maxReadFailures = 1000

func endOfStream(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, net.ErrClosed)
}

// stop detaches the Receiver and cancels a pending keyframe request.
func (r *Receiver) stop() {
	r.pliMu.Lock()
	r.closed = true
	if r.pliTimer != nil {
		r.pliTimer.Stop()
	}
	r.pliMu.Unlock()
	r.track.detach(r)
}

// RequestKeyframe asks the publisher for a keyframe. Requests within KeyframeInterval of the
// last one are coalesced into a single request at the end of the interval, so a hundred
// viewers joining at once cost the publisher one keyframe, not a hundred.
func (r *Receiver) RequestKeyframe() {
	if !r.codec.IsVideo() || r.src.WriteRTCP == nil {
		return
	}
	r.pliMu.Lock()
	if r.closed || r.pliPending {
		r.pliMu.Unlock()
		return
	}
	if wait := time.Until(r.lastPLI.Add(r.interval)); wait > 0 {
		r.pliPending = true
		r.pliTimer = time.AfterFunc(wait, r.sendPendingPLI)
		r.pliMu.Unlock()
		return
	}
	r.lastPLI = time.Now()
	r.pliMu.Unlock()
	r.sendPLI()
}

func (r *Receiver) sendPendingPLI() {
	r.pliMu.Lock()
	r.pliPending = false
	if r.closed {
		r.pliMu.Unlock()
		return
	}
	r.lastPLI = time.Now()
	r.pliMu.Unlock()
	r.sendPLI()
}

func (r *Receiver) sendPLI() {
	keyframeRequests.Inc()
	if err := r.src.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: r.src.SSRC}}); err != nil {
		r.log.Debug("keyframe request failed", zap.Error(err))
	}
}

// OnSenderReport keeps the publisher's RTP-to-wall-clock mapping (the room's media clock)
// and passes it on to every viewer in that viewer's own timestamp space, so players keep
// audio and video in sync.
func (r *Receiver) OnSenderReport(sr *rtcp.SenderReport) {
	r.clock.onSenderReport(sr, r.clockRate)
	now := time.Now()
	for _, dt := range r.track.snapshot() {
		dt.onSenderReport(r, sr, now)
	}
}
