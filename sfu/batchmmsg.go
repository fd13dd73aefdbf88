package sfu

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgBatch is a lane's pending sendmmsg(2): one message per GSO run (or per datagram
// without GSO), pointing into the lane's queue buffers (a flush) or into its paced viewers'
// held datagrams (a pacer pass), so either costs one system call however many runs and
// viewers it holds. A frame whose encoder cut it into slices gives each viewer several runs
// (each slice's last fragment is shorter, and GSO only lets the last datagram of a send be
// shorter), audio is a run of one per viewer, and a pacer pass sends a datagram or two to
// each viewer it serves: a 100-viewer profile spent about a tenth of the server's CPU
// entering and leaving the kernel, once per run. The kernel's per-datagram work is the
// same either way; only the crossings go.
type mmsgBatch struct {
	m    int                              // messages built
	niov int                              // iovecs used
	hdrs [maxQueued]unix.Mmsghdr          // the messages
	iovs [maxQueued]unix.Iovec            // one per datagram, in message order
	sas  [maxQueued]unix.RawSockaddrInet4 // each message's destination
	cms  [maxQueued][4]uint64             // each GSO message's UDP_SEGMENT cmsg (8-byte aligned)
	span [maxQueued]mmsgSpan              // the datagrams each message carries
}

// mmsgSpan is the datagrams one message carries: queue positions i..j-1, or with ps the
// viewer's held datagrams ps.held[i:j].
type mmsgSpan struct {
	i, j int
	ps   *paceState
	addr netip.AddrPort
}

// room reports whether the batch can take n more datagrams, as one GSO message or as one
// message each.
func (mb *mmsgBatch) room(n int, gso bool) bool {
	msgs := n
	if gso {
		msgs = 1
	}
	return mb.m+msgs <= maxQueued && mb.niov+n <= maxQueued
}

// batchable reports whether datagrams to addr can join a sendmmsg: an IPv4 peer on a socket
// whose descriptor is known (what send's fast path takes too).
func (b *batchConn) batchable(addr netip.AddrPort) bool {
	return b.fd >= 0 && addr.Addr().Unmap().Is4()
}

// addRun adds the queued datagrams i..j-1 (one address's run, see runEnd) to the pending
// sendmmsg: one GSO message, or without GSO one message each. A flush's messages always
// fit: the queue holds at most maxQueued datagrams.
func (l *sendLane) addRun(i, j int, gso bool) {
	if !gso || j-i == 1 {
		for k := i; k < j; k++ {
			l.addMessage(l.q[k].addr, mmsgSpan{i: k, j: k + 1}, false)
		}
		return
	}
	l.addMessage(l.q[i].addr, mmsgSpan{i: i, j: j}, true)
}

// addHeld adds the viewer's held datagrams ps.held[i:j] (a run, see heldRunEnd) to the
// pending sendmmsg, as addRun does; the caller makes room first.
func (l *sendLane) addHeld(ps *paceState, i, j int, gso bool) {
	if !gso || j-i == 1 {
		for k := i; k < j; k++ {
			l.addMessage(ps.addr, mmsgSpan{i: k, j: k + 1, ps: ps}, false)
		}
		return
	}
	l.addMessage(ps.addr, mmsgSpan{i: i, j: j, ps: ps}, true)
}

// datagram is the bytes of datagram k of span s's kind: queue position k, or s.ps.held[k].
func (l *sendLane) datagram(s mmsgSpan, k int) []byte {
	if s.ps != nil {
		h := s.ps.held[k]
		return h.buf[:h.n]
	}
	return l.bufs[k][:l.q[k].n]
}

// addMessage builds the next message, for span's datagrams to addr.
func (l *sendLane) addMessage(addr netip.AddrPort, span mmsgSpan, gso bool) {
	mb := &l.mm
	m, first := mb.m, mb.niov
	for k := span.i; k < span.j; k++ {
		p := l.datagram(span, k)
		mb.iovs[mb.niov].Base = &p[0]
		mb.iovs[mb.niov].SetLen(len(p))
		mb.niov++
	}
	mb.sas[m] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: addr.Addr().Unmap().As4()}
	port := (*[2]byte)(unsafe.Pointer(&mb.sas[m].Port))
	port[0], port[1] = byte(addr.Port()>>8), byte(addr.Port())
	h := &mb.hdrs[m]
	h.Len = 0
	h.Hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&mb.sas[m])), Namelen: unix.SizeofSockaddrInet4, Iov: &mb.iovs[first]}
	h.Hdr.SetIovlen(span.j - span.i)
	if gso {
		oob := unsafe.Slice((*byte)(unsafe.Pointer(&mb.cms[m][0])), unix.CmsgSpace(2))
		putSegmentCmsg(oob, uint16(len(l.datagram(span, span.i))))
		h.Hdr.Control = &oob[0]
		h.Hdr.SetControllen(len(oob))
	}
	span.addr = addr
	mb.span[m] = span
	mb.m++
}

// sendPending sends the lane's pending messages with sendmmsg. A message the kernel
// refuses goes again one datagram at a time (resend), which waits for buffer space (EAGAIN)
// and gets a run through that the kernel will not take as one GSO message: a device that
// cannot segment (EIO) turns GSO off, and a route whose MTU is under the run's segments
// (EMSGSIZE) still takes them singly, fragmented. A lone datagram refused for any other
// reason, or anything on a closed socket, is dropped as a lost UDP packet (the viewer
// NACKs it). Held datagrams sent (or dropped) are then retired from their viewers' queues.
func (b *batchConn) sendPending(l *sendLane) {
	mb := &l.mm
	for done := 0; done < mb.m; {
		n, errno := b.sendmmsg(mb.hdrs[done:mb.m])
		if n > 0 {
			for _, s := range mb.span[done : done+n] {
				if s.j-s.i > 1 {
					l.count(&l.gsoCount, s.j-s.i, datagramsGSO)
				} else {
					l.count(&l.singleCount, 1, datagramsSingle)
				}
			}
			done += n
			continue
		}
		s := mb.span[done]
		done++
		switch {
		case errno == unix.EBADF:
			packetsDropped.Add(float64(s.j - s.i))
		case errno == unix.EIO && s.j-s.i > 1:
			b.gso.Store(false) // the device cannot segment: never try again
			b.resend(l, s)
		case errno == unix.EAGAIN || s.j-s.i > 1:
			b.resend(l, s)
		default:
			packetsDropped.Inc()
		}
	}
	for _, s := range mb.span[:mb.m] {
		if s.ps != nil {
			l.retire(s.ps, s.i, s.j)
		}
	}
	for _, s := range mb.span[:mb.m] { // once every span is retired: compacting moves them
		if s.ps != nil {
			s.ps.compact()
		}
	}
	mb.m, mb.niov = 0, 0
}

// resend sends span s's datagrams one at a time, after the kernel refused them as one
// message.
func (b *batchConn) resend(l *sendLane, s mmsgSpan) {
	for k := s.i; k < s.j; k++ {
		l.count(&l.singleCount, 1, datagramsSingle)
		if err := b.send(l, l.datagram(s, k), s.addr); err != nil {
			packetsDropped.Inc()
		}
	}
}

// sendmmsg is sendmmsg(2) on the socket; it reports how many messages went, or 0 and why
// the first did not.
func (b *batchConn) sendmmsg(hdrs []unix.Mmsghdr) (int, unix.Errno) {
	b.closeMu.RLock()
	defer b.closeMu.RUnlock()
	if b.closed {
		return 0, unix.EBADF
	}
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(b.fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}
