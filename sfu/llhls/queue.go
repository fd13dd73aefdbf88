package llhls

import (
	"time"

	"github.com/pion/rtp"

	"github.com/glintlive/glint/sfu"
)

// maxPacket is the largest RTP packet kept (the SFU reads at most this much).
const maxPacket = 1500

// maxUnit is the largest source audio unit kept: an AAC-LC frame has at most 6,144 bits
// per channel, and only mono and stereo are offered (ingest/rtmp's sourceAudio).
const maxUnit = 2 * 768

// packet is one queued RTP packet, copied off the Receiver's goroutine, or one unit of the
// host's source audio (audio set), copied off the host session's.
type packet struct {
	src      *sfu.Receiver
	keyframe bool
	n        int
	buf      [max(maxPacket, maxUnit)]byte

	audio   *sfu.SourceAudio
	ts      uint32
	capture time.Time
}

// queue is a stream's bounded packet queue: ReadRTP copies into a free slot and returns; a
// full queue drops the packet (counted; the H.264 assembler sees the gap and waits for the
// next keyframe). Slots are preallocated and recycled, so nothing is allocated per packet.
type queue struct {
	free chan *packet
	work chan *packet
}

var (
	_ sfu.MediaReader       = (*queue)(nil)
	_ sfu.SourceAudioReader = (*queue)(nil)
)

func newQueue(size int) *queue {
	q := &queue{free: make(chan *packet, size), work: make(chan *packet, size)}
	for range size {
		q.free <- &packet{}
	}
	return q
}

// ReadRTP is the hub's call, on a Receiver's goroutine: copy and go.
func (q *queue) ReadRTP(src *sfu.Receiver, raw []byte, _ *rtp.Packet, keyframe bool) {
	if len(raw) > maxPacket {
		return
	}
	if p := q.take(); p != nil {
		p.src, p.keyframe, p.n = src, keyframe, copy(p.buf[:], raw)
		q.work <- p // never blocks: there are no more packets than slots
	}
}

// ReadSourceAudio is the host session's call: copy and go, as ReadRTP.
func (q *queue) ReadSourceAudio(a *sfu.SourceAudio, ts uint32, capture time.Time, unit []byte) {
	if len(unit) > maxUnit {
		packetsDropped.Inc()
		return
	}
	if p := q.take(); p != nil {
		p.audio, p.ts, p.capture, p.n = a, ts, capture, copy(p.buf[:], unit)
		q.work <- p
	}
}

// take is a free slot, or nil (counted) when the stream is that far behind.
func (q *queue) take() *packet {
	select {
	case p := <-q.free:
		return p
	default:
		packetsDropped.Inc()
		return nil
	}
}

// release returns a slot once its packet is handled.
func (q *queue) release(p *packet) {
	p.src, p.audio = nil, nil
	q.free <- p
}
