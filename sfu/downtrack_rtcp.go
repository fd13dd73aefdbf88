package sfu

import (
	"time"

	"github.com/pion/rtcp"
	"go.uber.org/zap"

	"github.com/glintlive/glint/simulcast"
)

const (
	// maxNackedPerPacket bounds the retransmissions one RTCP NACK can cause: a viewer
	// asking for more than this at once is lost beyond repair (or hostile).
	maxNackedPerPacket = 64
	// viewerKeyframeGap throttles keyframe requests from one viewer; the Receiver then
	// coalesces across viewers.
	viewerKeyframeGap = time.Second
)

// rtcpWriter sends RTCP on the viewer's session (pion's PeerConnection.WriteRTCP).
type rtcpWriter func([]rtcp.Packet) error

// HandleRTCP acts on the viewer's feedback for this track: keyframe requests go to the
// publisher (throttled here, coalesced in the Receiver), NACKs are answered from the
// Receiver's cache. pion hands every SSRC named in a compound packet the whole packet, so
// feedback about other tracks is skipped by media SSRC.
func (d *DownTrack) HandleRTCP(pkts []rtcp.Packet) { d.handleRTCP(pkts, time.Now()) }

// handleRTCP is HandleRTCP at now: tests drive the round trip and the resend guard with
// explicit times.
func (d *DownTrack) handleRTCP(pkts []rtcp.Packet, now time.Time) {
	budget := maxNackedPerPacket // per RTCP datagram, however many NACKs it bundles
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication:
			if p.MediaSSRC == d.ssrc {
				d.requestKeyframe()
			}
		case *rtcp.FullIntraRequest:
			// RFC 5104: the target is in the FCI entries; the media SSRC field is unused.
			for _, e := range p.FIR {
				if e.SSRC == d.ssrc {
					d.requestKeyframe()
					break
				}
			}
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			for _, ssrc := range p.SSRCs {
				if ssrc == d.ssrc {
					d.remb.Store(int64(min(p.Bitrate, maxEstimate)))
					break
				}
			}
		case *rtcp.TransportLayerNack:
			if p.MediaSSRC == d.ssrc {
				budget = d.retransmit(p, budget, now)
			}
		case *rtcp.ReceiverReport:
			d.onReceiverReport(p, now)
		}
	}
}

func (d *DownTrack) requestKeyframe() {
	viewerKeyframeRequests.Inc() // a viewer's decoder lost its picture: a freeze, as it sees it
	d.mu.Lock()
	r := d.source
	now := time.Now()
	if r == nil || now.Sub(d.lastViewerPLI) < viewerKeyframeGap {
		d.mu.Unlock()
		return
	}
	d.lastViewerPLI = now
	d.freezes++ // a picture it had, lost: repeats within viewerKeyframeGap are one freeze
	d.mu.Unlock()
	r.RequestKeyframe()
}

// retransmit resends the packets a viewer lost, rewritten exactly as they were first sent.
// The lock is taken per packet, so the publisher's fan-out is never held up for long.
func (d *DownTrack) retransmit(nack *rtcp.TransportLayerNack, budget int, now time.Time) int {
	for _, pair := range nack.Nacks {
		pair.Range(func(outSeq uint16) bool {
			if budget == 0 {
				return false
			}
			budget--
			d.resend(outSeq, now)
			return true
		})
	}
	return budget
}

func (d *DownTrack) resend(outSeq uint16, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.source
	if r == nil || d.writer == nil || d.closed {
		return
	}
	slot := &d.resent[outSeq%uint16(len(d.resent))]
	if slot.seq == outSeq && now.Sub(slot.at) < d.rtt.resendGuard() {
		return
	}
	// Over the budget, nothing more is done; within it, only what is sent is charged: a
	// viewer still asking for packets it cannot have (an earlier layer's, which pion's NACK
	// generator asks for again every round trip for seconds) would otherwise spend it, and
	// a loss that can be repaired would go unanswered.
	if d.rtxBudget.TokensAt(now) < 1 {
		nacksMissed.Inc() // over this viewer's retransmission budget
		return
	}
	inSeq, ok := d.munger.InputSeq(outSeq)
	if !ok {
		// A lost padding probe is answered with padding: left unanswered, it is a hole
		// that stalls the viewer's jitter buffer until it gives up and asks for a keyframe.
		if p := d.padded[outSeq%uint16(len(d.padded))]; p.valid && p.seq == outSeq {
			d.rtxBudget.AllowN(now, 1)
			*slot = resendMark{seq: outSeq, at: now}
			d.sendPadding(p.seq, p.ts)
			return
		}
		nacksMissed.Inc()
		return
	}
	n := r.cache.get(inSeq, d.rtx[:])
	if n == 0 || d.rtxPkt.Unmarshal(d.rtx[:n]) != nil {
		nacksMissed.Inc()
		return
	}
	payload := d.rtxPkt.Payload
	if r.codec == simulcast.CodecVP8 {
		if payload, ok = d.vp8.Rewrite(d.vp8buf[:], payload); !ok {
			return
		}
	}
	d.rtxBudget.AllowN(now, 1)
	*slot = resendMark{seq: outSeq, at: now}
	nacksAnswered.Inc()
	if d.send(&d.rtxPkt.Header, outSeq, d.munger.OutputTS(d.rtxPkt.Timestamp), payload) {
		packetsForwarded.Inc()
	}
}

// onSenderReport passes the publisher's clock mapping on, rewritten into this viewer's
// SSRC and timestamp space, with this DownTrack's own packet and octet counts; now is
// when it is sent, for the round trip.
func (d *DownTrack) onSenderReport(r *Receiver, sr *rtcp.SenderReport, now time.Time) {
	d.mu.Lock()
	if d.source != r || !d.munger.Started() || d.writeRTCP == nil || d.closed {
		d.mu.Unlock()
		return
	}
	out := &rtcp.SenderReport{
		SSRC:        d.ssrc,
		NTPTime:     sr.NTPTime,
		RTPTime:     d.munger.OutputTS(sr.RTPTime),
		PacketCount: d.packets,
		OctetCount:  d.octets,
	}
	w := d.writeRTCP
	d.rtt.sentReport(out.NTPTime, now)
	d.mu.Unlock()
	if err := w([]rtcp.Packet{out}); err != nil {
		d.log.Debug("sender report failed", zap.Error(err))
	}
}

// onReceiverReport measures the round trip from the viewer's report on this track,
// received at now.
func (d *DownTrack) onReceiverReport(rr *rtcp.ReceiverReport, now time.Time) {
	for _, r := range rr.Reports {
		if r.SSRC != d.ssrc {
			continue
		}
		d.mu.Lock()
		d.rtt.received(r, now)
		d.mu.Unlock()
		viewerLossRatio.Observe(float64(r.FractionLost) / 256)
	}
}

// rtxRate and rtxBurst bound what one viewer's NACKs can make the server send: about twice
// a 2.5 Mbit/s stream's packet rate, so real loss is always answered and a hostile viewer
// cannot turn small RTCP packets into a flood.
const (
	rtxRate  = 500 // packets a second
	rtxBurst = 256
)

// resendMark remembers when an output sequence number was last retransmitted.
type resendMark struct {
	seq uint16
	at  time.Time
}
