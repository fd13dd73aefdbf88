package sfu

import (
	"time"

	"github.com/pion/rtcp"
)

// rttMeter measures the round trip to one viewer from its receiver reports (RFC 3550
// 6.4.1): each report names the last sender report it had (LSR, the middle 32 bits of its
// NTP time) and how long it held it since (DLSR). The DownTrack forwards the publisher's
// sender reports, whose NTP times are the publisher's clock, so the meter remembers when
// each was sent here rather than reading the clock out of it.
type rttMeter struct {
	sent [4]srMark // the last sender reports sent, by LSR
	next int
	rtt  time.Duration // smoothed; 0 until measured
}

type srMark struct {
	lsr uint32
	at  time.Time
}

// sentReport records a sender report with NTP time ntp sent at now.
func (m *rttMeter) sentReport(ntp uint64, now time.Time) {
	m.sent[m.next] = srMark{lsr: uint32(ntp >> 16), at: now}
	m.next = (m.next + 1) % len(m.sent)
}

// received takes a reception report about this track received at now.
func (m *rttMeter) received(r rtcp.ReceptionReport, now time.Time) {
	if r.LastSenderReport == 0 {
		return
	}
	for _, s := range m.sent {
		if s.lsr != r.LastSenderReport || s.at.IsZero() {
			continue
		}
		held := time.Duration(r.Delay) * time.Second / 65536
		sample := now.Sub(s.at) - held
		switch {
		case sample < 0: // clocks do not run backwards; a report does
		case m.rtt == 0:
			m.rtt = sample
		default:
			// Smoothed as TCP's SRTT (RFC 6298, gain 1/8): on a jittery link one late
			// report would otherwise hold every retransmission back for its round trip.
			m.rtt += (sample - m.rtt) / 8
		}
		return
	}
}

// Bounds of resendGuard: a retransmission of one packet is not repeated within one round
// trip (the viewer cannot have had it yet), nor refused for longer than maxResendGuard
// (a viewer asks again no sooner: pion's generator every 100 ms, libwebrtc every RTT).
const (
	minResendGuard = 10 * time.Millisecond
	maxResendGuard = 100 * time.Millisecond
)

// resendGuard is the least time between two retransmissions of one packet to this viewer:
// its round trip once measured. A fixed 100 ms refused, about half the time, the second
// NACK of a packet whose retransmission was lost too (it came one generator tick, 100 ms,
// after the first, give or take scheduling), and each refusal cost another tick: on a
// 5 % loss link that was a freeze in every few hundred packets.
func (m *rttMeter) resendGuard() time.Duration {
	if m.rtt == 0 {
		return maxResendGuard
	}
	return min(max(m.rtt, minResendGuard), maxResendGuard)
}
