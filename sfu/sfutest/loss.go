package sfutest

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// dropFactory makes an interceptor that loses every nth incoming (or, outgoing, every nth
// outgoing) video RTP packet once, so tests see real NACKs and retransmissions without a
// lossy network.
type dropFactory struct {
	every    int
	outgoing bool
}

func (f *dropFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &dropper{every: f.every, outgoing: f.outgoing, dropped: map[uint64]bool{}}, nil
}

// hasIncomingLoss reports whether the factories lose incoming packets.
func hasIncomingLoss(fs []interceptor.Factory) bool {
	for _, f := range fs {
		if d, ok := f.(*dropFactory); ok && !d.outgoing {
			return true
		}
	}
	return false
}

type dropper struct {
	interceptor.NoOp
	every    int
	outgoing bool

	mu      sync.Mutex
	n       int
	dropped map[uint64]bool
}

// BindRemoteStream loses video only: audio is not NACKed in WebRTC (Opus conceals loss), so
// lost audio would only be lost.
func (d *dropper) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	if d.outgoing || !strings.HasPrefix(strings.ToLower(info.MimeType), "video/") {
		return reader
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attrs, err := reader.Read(b, a)
			if err != nil || n < 12 || !d.drop(b[:n]) {
				return n, attrs, err
			}
		}
	})
}

// BindLocalStream loses outgoing video, below the NACK responder (the dropper is added
// before pion's defaults, so it is nearest the network): the responder has the packet and
// resends it through here, and a resent packet passes.
func (d *dropper) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if !d.outgoing || !strings.HasPrefix(strings.ToLower(info.MimeType), "video/") {
		return writer
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		var buf [12]byte
		binary.BigEndian.PutUint16(buf[2:4], h.SequenceNumber)
		binary.BigEndian.PutUint32(buf[8:12], h.SSRC)
		if d.drop(buf[:]) {
			return len(payload), nil // lost on the way
		}
		return writer.Write(h, payload, a)
	})
}

// drop decides for one packet; a retransmission of a dropped packet always passes.
func (d *dropper) drop(pkt []byte) bool {
	key := uint64(binary.BigEndian.Uint32(pkt[8:12]))<<16 | uint64(binary.BigEndian.Uint16(pkt[2:4]))
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, seen := d.dropped[key]; seen {
		return false
	}
	d.n++
	if d.n%d.every != 0 {
		return false
	}
	d.dropped[key] = true
	return true
}

// nackCounter counts the sequence numbers a peer's NACKs ask for, on their way out.
type nackCounter struct {
	interceptor.NoOp
	asked atomic.Int64
}

// NewInterceptor returns the counter itself: one per peer.
func (c *nackCounter) NewInterceptor(string) (interceptor.Interceptor, error) { return c, nil }

func (c *nackCounter) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		for _, p := range pkts {
			if n, ok := p.(*rtcp.TransportLayerNack); ok {
				for _, pair := range n.Nacks {
					c.asked.Add(int64(len(pair.PacketList())))
				}
			}
		}
		return w.Write(pkts, a)
	})
}
