package transcode

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/pion/rtcp"

	"github.com/glintlive/glint/sfu"
)

// passthrough packetizes the host's H.264 into RTP in-process: no decode, no encode, no
// pipe, so the video reaches viewers with no added delay. Only a source without B-frames
// qualifies: the SFU forwards frames in the order they arrive, and WebRTC decoders expect
// decode order to be display order.
type passthrough struct {
	ssrc uint32
	pt   uint8
	src  *queueSource

	mu             sync.Mutex
	params         params
	seq            uint16
	tsBase         uint32
	started        bool // a keyframe has been sent: viewers can decode from here on
	lastSR         time.Time
	closed         bool
	onSR           func(*rtcp.SenderReport)
	h264Packetizer // guarded by mu
}

func newPassthrough(ssrc uint32, pt uint8, src *queueSource, sps, pps []byte) *passthrough {
	p := &passthrough{ssrc: ssrc, pt: pt, src: src, seq: uint16(rand.Uint32()), tsBase: rand.Uint32()}
	if len(sps) > 0 && len(pps) > 0 {
		p.params.sps, p.params.pps = append([]byte(nil), sps...), append([]byte(nil), pps...)
	}
	return p
}

// srInterval is how often passthrough video sends the SFU a sender report, as a WebRTC
// sender would.
const srInterval = time.Second

// write packetizes one access unit. Its RTP timestamp is the decode time: without B-frames
// that is also the presentation time.
func (p *passthrough) write(dts time.Duration, au [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(au) == 0 {
		return
	}
	au = p.params.apply(au)
	if !p.started {
		if !isKeyframe(au) {
			return // nothing before the first keyframe is decodable
		}
		p.started = true
	}
	ts := p.tsBase + uint32(ticks90k(dts))
	p.ts = ts
	for _, nalu := range au {
		p.packetize(nalu)
	}
	p.send(true) // the access unit's last packet carries the marker
	now := time.Now()
	if p.onSR != nil && now.Sub(p.lastSR) >= srInterval {
		p.lastSR = now
		p.onSR(&rtcp.SenderReport{SSRC: p.ssrc, NTPTime: sfu.NTP(now), RTPTime: ts})
	}
}

func (p *passthrough) setOnSR(f func(*rtcp.SenderReport)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onSR = f
}

func (p *passthrough) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
}
