package sfu

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgBatch is a lane's pending sendmmsg(2): one message per GSO run (or per datagram
// without GSO), pointing into the lane's queue buffers, so a flush costs one system call
// however many runs it holds. A frame whose encoder cut it into slices gives each viewer
// several runs (each slice's last fragment is shorter, and GSO only lets the last datagram
// of a send be shorter), and audio is a run of one per viewer: a 100-viewer profile spent
// about a tenth of the server's CPU entering and leaving the kernel, once per run. The
// kernel's per-datagram work is the same either way; only the crossings go.
type mmsgBatch struct {
	m    int                              // messages built
	hdrs [maxQueued]unix.Mmsghdr          // the messages
	iovs [maxQueued]unix.Iovec            // one per queued datagram (index as in sendLane.q)
	sas  [maxQueued]unix.RawSockaddrInet4 // each message's destination
	cms  [maxQueued][4]uint64             // each GSO message's UDP_SEGMENT cmsg (8-byte aligned)
	span [maxQueued]mmsgSpan              // the queue positions each message carries
}

// mmsgSpan is the queue positions i..j-1 that one message carries.
type mmsgSpan struct{ i, j int }

// batchable reports whether datagrams to addr can join a sendmmsg: an IPv4 peer on a socket
// whose descriptor is known (what send's fast path takes too).
func (b *batchConn) batchable(addr netip.AddrPort) bool {
	return b.fd >= 0 && addr.Addr().Unmap().Is4()
}

// addRun adds the queued datagrams i..j-1 (one address's run, see runEnd) to the pending
// sendmmsg: one GSO message, or without GSO one message each.
func (l *sendLane) addRun(i, j int, gso bool) {
	if !gso || j-i == 1 {
		for k := i; k < j; k++ {
			l.addMessage(k, k+1, false)
		}
		return
	}
	l.addMessage(i, j, true)
}

// addMessage builds message mm.m for the queued datagrams i..j-1 to one address.
func (l *sendLane) addMessage(i, j int, gso bool) {
	mb := &l.mm
	m := mb.m
	for k := i; k < j; k++ {
		mb.iovs[k].Base = &l.bufs[k][0]
		mb.iovs[k].SetLen(l.q[k].n)
	}
	addr := l.q[i].addr
	mb.sas[m] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: addr.Addr().Unmap().As4()}
	port := (*[2]byte)(unsafe.Pointer(&mb.sas[m].Port))
	port[0], port[1] = byte(addr.Port()>>8), byte(addr.Port())
	h := &mb.hdrs[m]
	h.Len = 0
	h.Hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&mb.sas[m])), Namelen: unix.SizeofSockaddrInet4, Iov: &mb.iovs[i]}
	h.Hdr.SetIovlen(j - i)
	if gso {
		oob := unsafe.Slice((*byte)(unsafe.Pointer(&mb.cms[m][0])), unix.CmsgSpace(2))
		putSegmentCmsg(oob, uint16(l.q[i].n))
		h.Hdr.Control = &oob[0]
		h.Hdr.SetControllen(len(oob))
	}
	mb.span[m] = mmsgSpan{i, j}
	mb.m++
}

// sendPending sends the lane's pending messages with sendmmsg. A message the kernel
// refuses goes again through sendRun, which waits for buffer space (EAGAIN) and sends a
// run the kernel will not take as one GSO message one datagram at a time: a device that
// cannot segment (EIO) turns GSO off, and a route whose MTU is under the run's segments
// (EMSGSIZE) still takes them singly, fragmented. A lone datagram refused for any other
// reason, or anything on a closed socket, is dropped as a lost UDP packet (the viewer
// NACKs it).
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
			b.gso.Store(false) // as sendRun: the device cannot segment
			b.sendRun(l, s.i, s.j)
		case errno == unix.EAGAIN || s.j-s.i > 1:
			b.sendRun(l, s.i, s.j)
		default:
			packetsDropped.Inc()
		}
	}
	mb.m = 0
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
