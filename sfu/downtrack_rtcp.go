package sfu

import (
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"go.uber.org/zap"
)

// rtcpWriter sends RTCP on the viewer's session (pion's PeerConnection.WriteRTCP).
type rtcpWriter func([]rtcp.Packet) error

// HandleRTCP acts on the viewer's feedback for this track: keyframe requests go to the
// publisher (coalesced), NACKs are answered from the Receiver's cache. Receiver reports
// are consumed by pion's interceptors before they get here.
func (d *DownTrack) HandleRTCP(pkts []rtcp.Packet) {
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			if r := d.currentSource(); r != nil {
				r.RequestKeyframe()
			}
		case *rtcp.TransportLayerNack:
			d.retransmit(p)
		}
	}
}

func (d *DownTrack) currentSource() *Receiver {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.source
}

// retransmit resends the packets a viewer lost, rewritten exactly as they were first sent.
func (d *DownTrack) retransmit(nack *rtcp.TransportLayerNack) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.source
	if r == nil || d.writer == nil || d.closed {
		return
	}
	var pkt rtp.Packet
	for _, pair := range nack.Nacks {
		pair.Range(func(outSeq uint16) bool {
			inSeq, ok := d.munger.InputSeq(outSeq)
			if !ok {
				nacksMissed.Inc()
				return true
			}
			n := r.cache.get(inSeq, d.rtx[:])
			if n == 0 || pkt.Unmarshal(d.rtx[:n]) != nil {
				nacksMissed.Inc()
				return true
			}
			nacksAnswered.Inc()
			d.send(&pkt.Header, outSeq, d.munger.OutputTS(pkt.Timestamp), pkt.Payload)
			return true
		})
	}
}

// onSenderReport passes the publisher's clock mapping on, rewritten into this viewer's
// SSRC and timestamp space, with this DownTrack's own packet and octet counts.
func (d *DownTrack) onSenderReport(r *Receiver, sr *rtcp.SenderReport) {
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
	d.mu.Unlock()
	if err := w([]rtcp.Packet{out}); err != nil {
		d.log.Debug("sender report failed", zap.Error(err))
	}
}
