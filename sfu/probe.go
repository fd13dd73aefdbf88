package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// A prober measures what a viewer's link delivered while the allocator probed it with
// padding: bytes received over the spread of their arrival times, from the viewer's
// transport-wide congestion feedback. GCC alone climbs about 8 % a second and never past
// 1.5 times what it was sent, so a viewer that fell to a low layer would take half a
// minute to climb back; a measured probe lets the allocator trust a higher rate at once
// (libwebrtc's probe bitrate estimator does the same). The cost outside a probe is one
// atomic load per packet sent.
type prober struct {
	recording atomic.Bool // packets sent now are part of the probe
	measuring atomic.Bool // feedback is still wanted

	mu      sync.Mutex
	sent    [probeHistory]probeSent // by transport-wide seq
	n       int                     // packets acknowledged as received
	bytes   int                     // their size, but for the first (its bytes arrived before the span began)
	first   int64                   // earliest and latest arrival, µs on the viewer's clock
	last    int64
	sentAt  time.Time // first and last send time
	sentEnd time.Time
	sentB   int
	sentN   int // packets sent
}

// probeHistory bounds the packets one probe measures: at 1,200 bytes, 4,096 packets is
// 5 Mbit/s for 8 s, longer than any probe.
const probeHistory = 4096

type probeSent struct {
	seq  uint16
	size uint16
	ok   bool
}

// probeMinPackets and probeMinSpan are the least a probe is measured on, as sent and as
// acknowledged: fewer packets, or a shorter spread, say too little about the link (a
// shaper's burst allowance lets a short burst through faster than its rate).
const (
	probeMinPackets = 8
	probeMinSpan    = 50 * time.Millisecond
)

// start begins a probe: packets sent from now on are measured.
func (p *prober) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.sent[:])
	p.n, p.bytes, p.first, p.last, p.sentB, p.sentN = 0, 0, 0, 0, 0, 0
	p.sentAt, p.sentEnd = time.Time{}, time.Time{}
	p.measuring.Store(true)
	p.recording.Store(true)
}

// stop ends the probe's sending; feedback for it is still taken until result.
func (p *prober) stop() { p.recording.Store(false) }

// result reports the rate the link delivered during the probe and the rate it was sent
// at, in bits per second; 0, 0 when too little was acknowledged to tell. It ends the probe.
func (p *prober) result() (delivered, sent int) {
	p.recording.Store(false)
	p.measuring.Store(false)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n < probeMinPackets || p.last-p.first < probeMinSpan.Microseconds() {
		return 0, 0
	}
	sendSpan := p.sentEnd.Sub(p.sentAt).Microseconds()
	if sendSpan <= 0 || (p.last-p.first)*10 < sendSpan*8 {
		// Arrivals bunched closer than the packets were sent: the receiver read them late
		// (a busy player timestamps at read, not at the socket), so their spread says
		// nothing about the link. A link slower than the probe only spreads them out.
		return 0, 0
	}
	delivered = int(int64(p.bytes) * 8 * 1_000_000 / (p.last - p.first))
	sent = int(int64(p.sentB) * 8 * 1_000_000 / sendSpan)
	return delivered, sent
}

// short reports whether the probe has not yet sent enough to be measured.
func (p *prober) short() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sentN < probeMinPackets || p.sentEnd.Sub(p.sentAt) < probeMinSpan
}

// onSent records a packet the viewer is sent during a probe.
func (p *prober) onSent(seq uint16, size int) {
	if !p.recording.Load() {
		return
	}
	now := time.Now()
	p.mu.Lock()
	p.sent[seq%probeHistory] = probeSent{seq: seq, size: uint16(min(size, 0xffff)), ok: true}
	if p.sentAt.IsZero() {
		p.sentAt = now
	} else {
		p.sentB += size
	}
	p.sentEnd = now
	p.sentN++
	p.mu.Unlock()
}

// onFeedback takes the arrivals a transport-wide feedback packet reports.
func (p *prober) onFeedback(pkts []rtcp.Packet) {
	if !p.measuring.Load() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pkt := range pkts {
		if fb, ok := pkt.(*rtcp.TransportLayerCC); ok {
			p.takeFeedback(fb)
		}
	}
}

// takeFeedback walks the packet statuses of one feedback: each received packet has the
// next receive delta, and arrival times accumulate from the reference time.
func (p *prober) takeFeedback(fb *rtcp.TransportLayerCC) {
	arrival := int64(fb.ReferenceTime) * 64_000 // µs
	seq, left, delta := fb.BaseSequenceNumber, int(fb.PacketStatusCount), 0
	status := func(symbol uint16) {
		if symbol == rtcp.TypeTCCPacketReceivedSmallDelta || symbol == rtcp.TypeTCCPacketReceivedLargeDelta {
			if delta < len(fb.RecvDeltas) {
				arrival += fb.RecvDeltas[delta].Delta
				delta++
				p.ack(seq, arrival)
			}
		}
		seq++
		left--
	}
	for _, chunk := range fb.PacketChunks {
		switch c := chunk.(type) {
		case *rtcp.RunLengthChunk:
			for i := 0; i < int(c.RunLength) && left > 0; i++ {
				status(c.PacketStatusSymbol)
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				if left == 0 {
					break
				}
				status(s)
			}
		}
	}
}

func (p *prober) ack(seq uint16, arrival int64) {
	s := &p.sent[seq%probeHistory]
	if !s.ok || s.seq != seq {
		return
	}
	s.ok = false
	if p.n == 0 {
		p.first, p.last = arrival, arrival
	} else {
		p.bytes += int(s.size)
		p.first, p.last = min(p.first, arrival), max(p.last, arrival)
	}
	p.n++
}

// probingEstimator is GCC with a prober beside it: it sees the packets GCC sees (stamped
// with transport-wide sequence numbers) and the feedback GCC gets.
type probingEstimator struct {
	cc.BandwidthEstimator
	probe prober
}

func (e *probingEstimator) AddStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	next := e.BandwidthEstimator.AddStream(info, w)
	var id uint8
	for _, ext := range info.RTPHeaderExtensions {
		if ext.URI == sdp.TransportCCURI {
			id = uint8(ext.ID)
		}
	}
	if id == 0 {
		return next
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if e.probe.recording.Load() {
			if b := h.GetExtension(id); len(b) >= 2 {
				size := h.MarshalSize() + len(payload)
				if h.Padding && len(payload) == 0 {
					size += int(h.PaddingSize) // a padding-only probe packet
				}
				e.probe.onSent(uint16(b[0])<<8|uint16(b[1]), size)
			}
		}
		return next.Write(h, payload, a)
	})
}

func (e *probingEstimator) WriteRTCP(pkts []rtcp.Packet, a interceptor.Attributes) error {
	e.probe.onFeedback(pkts)
	return e.BandwidthEstimator.WriteRTCP(pkts, a)
}
