package sfu

import "github.com/pion/rtp"

import "time"

// maxBatch bounds the packets of one frame held together: a 1080p keyframe at 6 Mbit/s is
// about 100 packets. A larger frame is simply handed on in pieces.
const maxBatch = 128

// batchGap: packets arriving further apart than this are not held for each other. A paced
// sender (browsers send a frame in 5 ms micro-bursts) gains nothing from holding, and the
// held packet would wait for the next one to arrive.
const batchGap = 200 * time.Microsecond

// frameBatch holds the packets of the frame being received so the fan-out can give each
// viewer the whole frame before moving to the next viewer. Sending packet by packet to
// every viewer makes every viewer wait for the last packet of the frame to reach the last
// viewer; frame by frame, viewer k is done after k frames' worth of sends, which halves the
// average frame latency at the same CPU cost. No frame waits for anything but its own
// packets: the batch goes out at the marker bit, when the next frame starts, when the next
// packet comes more than batchGap after the last one held (a paced sender), and before any
// packet that is not the next in sequence (a publisher's retransmission, a late or padding
// packet), which then goes out alone at once. What remains held is only the start of a
// frame whose marker packet was lost and not yet repaired: it goes with the next packet.
type frameBatch struct {
	slots   []batchPacket
	n       int
	lastSeq uint16 // highest sequence number seen
	started bool
}

func newFrameBatch(size int) *frameBatch { return &frameBatch{slots: make([]batchPacket, size)} }

// batchPacket is one received packet; pkt's payload points into buf.
type batchPacket struct {
	pkt      rtp.Packet
	keyframe bool
	arrival  int64
	n        int
	buf      [maxPacketSize]byte
}

// moveToFront makes slot i the batch's first packet (the start of a new frame).
func (b *frameBatch) moveToFront(i int) {
	if i == 0 {
		return
	}
	src, dst := &b.slots[i], &b.slots[0]
	dst.n, dst.keyframe, dst.arrival = src.n, src.keyframe, src.arrival
	copy(dst.buf[:src.n], src.buf[:src.n])
	// Re-parse so the payload points into dst.buf; the bytes parsed once already.
	_ = dst.pkt.Unmarshal(dst.buf[:dst.n])
	b.n = 0
}
