package sfu

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

const (
	// maxQueued is how many datagrams a batchConn holds before it sends them.
	maxQueued = 128
	// maxSegments bounds one GSO send: the kernel takes up to 64 segments and 64 KiB.
	maxSegments = 40
)

// batchConn is the media socket. Outside a batch it writes each datagram at once, like a
// plain socket. Inside one (the fan-out brackets viewers' shares of a frame with begin and
// end) it queues datagrams and, at the end, sends the queue in one sendmmsg (batchmmsg.go),
// each run of equal-sized datagrams to one address (a viewer's share of a frame's slice:
// all but its last packet have one size) as a single UDP GSO message. A profile of a
// 100-viewer fan-out spent three quarters of its CPU in the kernel's per-datagram send
// path, which GSO walks once per run instead of once per packet. Without GSO (old kernels)
// each datagram is a message of its own.
//
// The queue is split into lanes by destination address (laneOf), each with its own lock,
// so fan-out workers on several cores (fanPool) queue and send at once: a worker brackets a
// viewer with that viewer's lane, and a flush holds only its lane. All of one address's
// datagrams pass through one lane in order, so nothing to one viewer is reordered whichever
// goroutine writes it; writes from other goroutines (RTCP, retransmissions) during a batch
// join its lane's queue and go out with it, microseconds later.
type batchConn struct {
	*net.UDPConn
	gso   atomic.Bool
	lanes []sendLane
	pacer pacer

	// Sends go straight to the socket (sendmmsg or sendmsg on fd), not through the net
	// package: its FD lets one writer in at a time, and a profile of four workers sending
	// on one socket showed them taking turns, at one core's throughput. The kernel's UDP
	// send path needs no such lock. closeMu keeps the descriptor from being closed (and its
	// number reused) under a send.
	fd      int
	closeMu sync.RWMutex
	closed  bool
}

// sendLane is one lane's queue and the buffers its sends are built in.
type sendLane struct {
	mu    sync.Mutex
	depth int // open batches
	n     int // queued datagrams
	q     [maxQueued]queued
	bufs  [maxQueued][maxPacketSize]byte
	msg   unix.Msghdr // the lane's sendmsg arguments, reused: nothing is allocated per send
	iov   unix.Iovec
	sa    unix.RawSockaddrInet4
	// Datagrams counted here and added to the process-wide counters now and then: a shared
	// atomic hit by every core for every viewer would cost more than the counting is worth.
	gsoCount, singleCount, pacedCount int

	mm mmsgBatch // the flush's sendmmsg (batchmmsg.go)

	// Pacing (pacer.go): the lane's paced viewers, those of them with datagrams held, and
	// the held datagrams' buffers, reused.
	pace   map[netip.AddrPort]*paceState
	active []*paceState
	free   []*heldDatagram
	heldN  int
}

// countEvery is how many datagrams a lane counts before it adds them to the metrics.
const countEvery = 256

type queued struct {
	addr netip.AddrPort
	n    int
}

// newBatchConn wraps c with the given number of lanes (at least one).
func newBatchConn(c *net.UDPConn, lanes int) *batchConn {
	b := &batchConn{UDPConn: c, lanes: make([]sendLane, max(1, lanes)), fd: -1,
		pacer: pacer{kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}}
	b.gso.Store(gsoSupported(c))
	if raw, err := c.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { b.fd = int(fd) })
	}
	return b
}

// Close stops the pacer and closes the socket once no send is using its descriptor.
func (b *batchConn) Close() error {
	b.stopPacer()
	b.closeMu.Lock()
	b.closed = true
	b.closeMu.Unlock()
	return b.UDPConn.Close()
}

// send writes one datagram to addr from lane l, outside the sendmmsg batch (a write
// pion makes itself, or a datagram the batch could not send). It calls sendmsg itself
// (see batchConn.fd); what that cannot take (an IPv6 peer, a full send buffer) goes
// through the net package, which also waits for room.
func (b *batchConn) send(l *sendLane, p []byte, addr netip.AddrPort) error {
	if ip := addr.Addr().Unmap(); ip.Is4() && b.fd >= 0 {
		b.closeMu.RLock()
		if b.closed {
			b.closeMu.RUnlock()
			return net.ErrClosed
		}
		errno := l.sendmsg(b.fd, p, ip.As4(), addr.Port())
		b.closeMu.RUnlock()
		if errno == 0 {
			return nil
		}
		if errno != unix.EAGAIN {
			return errno
		}
	}
	_, err := b.UDPConn.WriteToUDPAddrPort(p, addr)
	return err
}

// sendmsg is sendmsg(2) on fd with the lane's reused arguments.
func (l *sendLane) sendmsg(fd int, p []byte, ip [4]byte, port uint16) unix.Errno {
	l.sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&l.sa.Port))[:], port)
	l.iov.Base = unsafe.SliceData(p)
	l.iov.SetLen(len(p))
	l.msg = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&l.sa)), Namelen: unix.SizeofSockaddrInet4, Iov: &l.iov}
	l.msg.SetIovlen(1)
	_, _, errno := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&l.msg)), 0)
	return errno
}

// laneOf spreads addresses over n lanes. The fan-out gives each worker the viewers of its
// lanes, so the function must be the same for both (it is: both call this).
func laneOf(addr netip.AddrPort, n int) int {
	if n <= 1 {
		return 0
	}
	a := addr.Addr().As16()
	h := uint32(2166136261) // FNV-1a over the address's last four bytes and the port
	for _, c := range [...]byte{a[12], a[13], a[14], a[15], byte(addr.Port() >> 8), byte(addr.Port())} {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % uint32(n))
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
	l := &b.lanes[laneOf(addr, len(b.lanes))]
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.depth == 0 || len(p) > maxPacketSize {
		b.flushLocked(l) // nothing queued may be overtaken
		if ps := l.paceOf(addr); ps != nil && ps.waiting() > 0 {
			// Nor anything held for the viewer: p waits behind it, or, when the lane
			// cannot hold it, what waits goes first.
			if len(p) <= maxPacketSize && b.hold(l, ps, p) {
				return len(p), nil
			}
			pacerOverflows.Inc()
			b.sendHeld(l, ps, false)
		}
		if err := b.send(l, p, addr); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	l.q[l.n] = queued{addr: addr, n: copy(l.bufs[l.n][:], p)}
	l.n++
	if l.n == maxQueued {
		b.flushLocked(l)
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

// begin opens a batch on a lane (see laneOf); writes to the lane's addresses queue until
// the matching end.
func (b *batchConn) begin(lane int) {
	l := &b.lanes[lane%len(b.lanes)]
	l.mu.Lock()
	l.depth++
	l.mu.Unlock()
}

func (b *batchConn) end(lane int) {
	l := &b.lanes[lane%len(b.lanes)]
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.depth--; l.depth == 0 {
		b.flushLocked(l)
	}
}

// flushLocked sends a lane's queue in one sendmmsg, a message per run (batchmmsg.go, which
// says what happens to a message the kernel refuses); a paced viewer's run goes as far as
// its bucket allows and the rest is held (pacer.go).
func (b *batchConn) flushLocked(l *sendLane) {
	var now int64
	gso := b.gso.Load()
	for i := 0; i < l.n; {
		j := l.runEnd(i)
		k := j
		ps := l.paceOf(l.q[i].addr)
		if ps != nil {
			if now == 0 {
				now = time.Now().UnixNano()
			}
			k = i + ps.admit(l.q[:], i, j, now)
		}
		if k > i {
			if b.batchable(l.q[i].addr) {
				l.addRun(i, k, gso)
			} else {
				b.resend(l, mmsgSpan{i: i, j: k, addr: l.q[i].addr})
			}
		}
		if k < j {
			// What is held, or sent by holdRun when it cannot be held, comes after what
			// was queued before it.
			b.sendPending(l)
			b.holdRun(l, ps, k, j)
		}
		i = j
	}
	b.sendPending(l)
	l.n = 0
}

// paceOf is the pacing of the viewer at addr, nil when it is not paced.
func (l *sendLane) paceOf(addr netip.AddrPort) *paceState {
	if len(l.pace) == 0 {
		return nil // no map lookup per run where nobody is paced
	}
	return l.pace[addr]
}

// sendQueued sends the queued datagrams i..j-1 (one address's run, see runEnd) now:
// as one sendmmsg message where the address can join one, else one datagram at a time.
// The lane's sendmmsg holds nothing (the caller has sent it), so the run fits.
func (b *batchConn) sendQueued(l *sendLane, i, j int) {
	if !b.batchable(l.q[i].addr) {
		b.resend(l, mmsgSpan{i: i, j: j, addr: l.q[i].addr})
		return
	}
	l.addRun(i, j, b.gso.Load())
	b.sendPending(l)
}

// count adds n to a lane's tally and hands the tally to c once it is large enough.
func (l *sendLane) count(tally *int, n int, c prometheus.Counter) {
	if *tally += n; *tally >= countEvery {
		c.Add(float64(*tally))
		*tally = 0
	}
}

// runEnd returns the end of the GSO run starting at i: datagrams to one address, all the
// size of the first, except that the last may be shorter (GSO's rule).
func (l *sendLane) runEnd(i int) int {
	first := l.q[i]
	j := i + 1
	for j < l.n && j-i < maxSegments && l.q[j].addr == first.addr && l.q[j].n <= first.n {
		j++
		if l.q[j-1].n < first.n {
			break
		}
	}
	return j
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
