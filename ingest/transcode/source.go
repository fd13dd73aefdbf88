package transcode

import (
	"io"
	"sync"

	"github.com/pion/interceptor"

	"github.com/glintlive/glint/sfu"
)

// packet is one pooled RTP datagram on its way from a socket (or the passthrough
// packetizer) to the SFU's Receiver.
type packet struct {
	buf [1500]byte
	n   int
}

var packetPool = sync.Pool{New: func() any { return new(packet) }}

// queueSource is a Track's sfu.TrackSource: a bounded queue between the goroutine that
// produces RTP and the Receiver that reads it. The producer never waits for the Receiver:
// a full queue drops the newest packet (counted), as a congested UDP socket would, and the
// viewers NACK or wait for the next keyframe.
type queueSource struct {
	ch    chan *packet
	done  chan struct{} // the Ladder closed
	ended chan struct{} // this track alone ended (a shed rung)
	once  sync.Once
}

var _ sfu.TrackSource = (*queueSource)(nil)

// Queue sizes: enough for a 1080p keyframe at the top rung's bitrate (a few hundred
// packets) while the Receiver is busy; audio is one packet per 20 ms.
const (
	videoQueuePackets = 1024
	audioQueuePackets = 128
)

func newQueueSource(size int, done chan struct{}) *queueSource {
	return &queueSource{ch: make(chan *packet, size), done: done, ended: make(chan struct{})}
}

// push hands p on, or drops it if the reader is that far behind. It takes ownership of p.
func (q *queueSource) push(p *packet) {
	select {
	case q.ch <- p:
	default:
		packetPool.Put(p)
		packetsDropped.Inc()
	}
}

// Read returns the next RTP packet, or io.EOF once the ladder is closed.
func (q *queueSource) Read(b []byte) (int, interceptor.Attributes, error) {
	select {
	case p := <-q.ch:
		n := copy(b, p.buf[:p.n])
		packetPool.Put(p)
		return n, nil, nil
	case <-q.done:
		return 0, nil, io.EOF
	case <-q.ended:
		return 0, nil, io.EOF
	}
}

// end ends this track alone: its Receiver returns and leaves the stage, so its viewers move
// to another layer at once rather than wait for it to count as stopped.
func (q *queueSource) end() { q.once.Do(func() { close(q.ended) }) }

// drain returns every queued packet to the pool (after close).
func (q *queueSource) drain() {
	for {
		select {
		case p := <-q.ch:
			packetPool.Put(p)
		default:
			return
		}
	}
}
