package sfu

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	// maxQueued is how many datagrams a batchConn holds before it sends them.
	maxQueued = 128
	// maxSegments bounds one GSO send: the kernel takes up to 64 segments and 64 KiB.
	maxSegments = 40
)

// batchConn is the media socket. Outside a batch it writes each datagram at once, like a
// plain socket. Inside one (the fan-out brackets each frame with begin and end) it queues
// datagrams and, at the end, sends each run of equal-sized datagrams to one address (a
// viewer's share of a frame: all but the last packet of a fragmented frame have one size)
// as a single UDP GSO write. A profile of a 100-viewer fan-out spent three quarters of its
// CPU in the kernel's per-datagram send path, which GSO walks once per run instead of once
// per packet. Writes from other goroutines during a batch join the queue and go out with
// it, microseconds later. Without GSO (old kernels) it falls back to one write per datagram.
type batchConn struct {
	*net.UDPConn
	gso atomic.Bool

	mu    sync.Mutex
	depth int // open batches
	n     int // queued datagrams
	q     [maxQueued]queued
	bufs  [maxQueued][maxPacketSize]byte
	super [maxSegments * maxPacketSize]byte
	oob   []byte
}

type queued struct {
	addr netip.AddrPort
	n    int
}

func newBatchConn(c *net.UDPConn) *batchConn {
	b := &batchConn{UDPConn: c, oob: make([]byte, unix.CmsgSpace(2))}
	b.gso.Store(gsoSupported(c))
	return b
}

// gsoSupported asks the kernel whether the socket knows UDP_SEGMENT (Linux 4.18+).
func gsoSupported(c *net.UDPConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		_, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	}); err != nil {
		return false
	}
	return serr == nil
}

// ReadFromAddrPort and WriteToAddrPort make pion use this conn without allocating
// net.Addr values per packet.
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return b.UDPConn.ReadFromUDPAddrPort(p)
}

func (b *batchConn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.depth == 0 || len(p) > maxPacketSize {
		b.flushLocked() // nothing queued may be overtaken
		return b.UDPConn.WriteToUDPAddrPort(p, addr)
	}
	b.q[b.n] = queued{addr: addr, n: copy(b.bufs[b.n][:], p)}
	b.n++
	if b.n == maxQueued {
		b.flushLocked()
	}
	return len(p), nil
}

// WriteTo is the net.PacketConn path; pion prefers WriteToAddrPort.
func (b *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return b.WriteToAddrPort(p, ua.AddrPort())
	}
	return b.UDPConn.WriteTo(p, addr)
}

func (b *batchConn) begin() {
	b.mu.Lock()
	b.depth++
	b.mu.Unlock()
}

func (b *batchConn) end() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.depth--; b.depth == 0 {
		b.flushLocked()
	}
}

// flushLocked sends the queue, a run at a time. A datagram the kernel refuses is dropped,
// as a lost UDP packet would be: the viewer NACKs it.
func (b *batchConn) flushLocked() {
	for i := 0; i < b.n; {
		j := b.runEnd(i)
		if j-i > 1 && b.gso.Load() {
			if err := b.sendGSO(i, j); err == nil {
				datagramsGSO.Add(float64(j - i))
				i = j
				continue
			} else if errors.Is(err, unix.EIO) {
				b.gso.Store(false) // the device cannot segment (as quic-go reads EIO): never try again
			}
		}
		for ; i < j; i++ {
			datagramsSingle.Inc()
			if _, err := b.UDPConn.WriteToUDPAddrPort(b.bufs[i][:b.q[i].n], b.q[i].addr); err != nil {
				packetsDropped.Inc()
			}
		}
	}
	b.n = 0
}

// runEnd returns the end of the GSO run starting at i: datagrams to one address, all the
// size of the first, except that the last may be shorter (GSO's rule).
func (b *batchConn) runEnd(i int) int {
	first := b.q[i]
	j := i + 1
	for j < b.n && j-i < maxSegments && b.q[j].addr == first.addr && b.q[j].n <= first.n {
		j++
		if b.q[j-1].n < first.n {
			break
		}
	}
	return j
}

func (b *batchConn) sendGSO(i, j int) error {
	off := 0
	for k := i; k < j; k++ {
		off += copy(b.super[off:], b.bufs[k][:b.q[k].n])
	}
	oob := b.oob[:unix.CmsgSpace(2)]
	putSegmentCmsg(oob, uint16(b.q[i].n))
	_, _, err := b.UDPConn.WriteMsgUDPAddrPort(b.super[:off], oob, b.q[i].addr)
	return err
}

// putSegmentCmsg writes a UDP_SEGMENT control message carrying the segment size.
func putSegmentCmsg(oob []byte, size uint16) {
	for i := range oob {
		oob[i] = 0
	}
	hdr := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0])) // as x/sys/unix builds its own cmsgs
	hdr.Level = unix.IPPROTO_UDP
	hdr.Type = unix.UDP_SEGMENT
	hdr.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(oob[unix.CmsgLen(0):], size)
}
