package sfu

import "sync"

// maxPacketSize bounds what the cache stores per slot: the largest RTP packet pion reads
// (its receive MTU) fits.
const maxPacketSize = 1500

// packetCache keeps the last N packets of one Receiver so that viewers' NACKs are answered
// from one copy per published track rather than one per viewer. Slots are indexed by
// sequence number; a slot's seq field tells whether it still holds the packet asked for.
type packetCache struct {
	mu    sync.RWMutex
	mask  uint16
	slots []cacheSlot
}

type cacheSlot struct {
	seq   uint16
	valid bool
	n     int
	buf   [maxPacketSize]byte
}

func newPacketCache(packets int) *packetCache {
	size := 1
	for size < packets {
		size <<= 1
	}
	return &packetCache{mask: uint16(size - 1), slots: make([]cacheSlot, size)}
}

// put stores a copy of pkt, the whole marshalled RTP packet with sequence number seq.
// Oversized packets are not cached (they cannot be retransmitted, but nothing breaks).
func (c *packetCache) put(seq uint16, pkt []byte) {
	if len(pkt) > maxPacketSize {
		return
	}
	c.mu.Lock()
	s := &c.slots[seq&c.mask]
	s.seq, s.valid, s.n = seq, true, copy(s.buf[:], pkt)
	c.mu.Unlock()
}

// get copies packet seq into dst and returns its length, or 0 when it is gone.
func (c *packetCache) get(seq uint16, dst []byte) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := &c.slots[seq&c.mask]
	if !s.valid || s.seq != seq || len(dst) < s.n {
		return 0
	}
	return copy(dst, s.buf[:s.n])
}
