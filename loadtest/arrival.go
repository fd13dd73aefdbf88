package loadtest

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The load generator's viewers cost more CPU per packet than the server (pion's receive
// path: a recvmsg, SRTP, interceptors and goroutine hand-offs per packet), so a keyframe
// burst that the server sends to 100 viewers in 15 ms takes the client's one core longer
// than that to read. Timed when the read loop gets a packet, a frame's latency would then
// be the client's queue as much as the server's. The kernel stamps each datagram as it
// reaches the viewer's socket (SO_TIMESTAMPNS; on loopback, the moment the server's send
// hands it over), and frame latency is taken from that stamp; the read time is kept as
// a second figure ("read p99") so the report shows what the client's queue adds. (The
// kernel turns arrival stamps on a moment after the first socket asks; packets before that
// are stamped at the read, which only the first milliseconds of a run can meet.)

// arrivalSlots is how many sequence numbers a viewer's table remembers, per stream: far
// more than the packets of one keyframe in flight between the socket and the read loop.
const arrivalSlots = 1024

// arrivals remembers, per viewer, when each RTP packet reached its socket. Each slot has
// two ways, so the audio and the video stream (equal sequence numbers modulo the table,
// different SSRCs) never evict each other's packets.
type arrivals struct {
	mu    sync.Mutex
	slots [arrivalSlots][2]arrival
}

type arrival struct {
	ssrc uint32
	seq  uint16
	ok   bool
	at   int64 // Unix ns, CLOCK_REALTIME like the publisher's stamps
}

// note records the arrival of a datagram if it is RTP (RFC 7983: first byte 128-191;
// RFC 5761: payload types 64-95 are RTCP).
func (a *arrivals) note(b []byte, at int64) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return
	}
	if pt := b[1] & 0x7f; pt >= 64 && pt <= 95 {
		return
	}
	seq := binary.BigEndian.Uint16(b[2:4])
	ssrc := binary.BigEndian.Uint32(b[8:12])
	a.mu.Lock()
	ways := &a.slots[seq%arrivalSlots]
	w := 0
	switch {
	case ways[0].ok && ways[0].ssrc == ssrc:
	case ways[1].ok && ways[1].ssrc == ssrc, !ways[1].ok:
		w = 1
	case ways[1].at < ways[0].at:
		w = 1 // a third stream: the older way goes
	}
	ways[w] = arrival{ssrc: ssrc, seq: seq, ok: true, at: at}
	a.mu.Unlock()
}

// lookup returns when the packet ssrc/seq reached the socket, if it is remembered.
func (a *arrivals) lookup(ssrc uint32, seq uint16) (time.Time, bool) {
	a.mu.Lock()
	ways := a.slots[seq%arrivalSlots]
	a.mu.Unlock()
	for _, s := range ways {
		if s.ok && s.ssrc == ssrc && s.seq == seq {
			return time.Unix(0, s.at), true
		}
	}
	return time.Time{}, false
}

// stampedConn is a viewer's UDP socket with kernel receive timestamps on. pion's ICE
// reads through ReadFromAddrPort (ice.AddrPortReaderWriter) or ReadFrom; both stamp.
// pion reads ECN marks only from a bare *net.UDPConn, so a viewer has none: nothing on
// loopback sets them, and the load tester's viewers send no ECN feedback anyway.
type stampedConn struct {
	*net.UDPConn
	stamps *arrivals
	oob    []byte // one reader per socket: pion's candidate read loop
}

// stampConn turns on SO_TIMESTAMPNS; a socket that refuses is returned as it was, and its
// viewer falls back to read times.
func stampConn(c *net.UDPConn, stamps *arrivals) (*stampedConn, bool) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return nil, false
	}
	return &stampedConn{UDPConn: c, stamps: stamps, oob: make([]byte, unix.CmsgSpace(16))}, true
}

func (c *stampedConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, oobn, _, addr, err := c.ReadMsgUDPAddrPort(b, c.oob)
	if err == nil {
		c.stamp(b[:n], c.oob[:oobn])
	}
	return n, addr, err
}

func (c *stampedConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.WriteToUDPAddrPort(b, addr)
}

func (c *stampedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, oobn, _, addr, err := c.ReadMsgUDP(b, c.oob)
	if err != nil {
		return n, nil, err // not a typed nil *net.UDPAddr in a non-nil net.Addr
	}
	c.stamp(b[:n], c.oob[:oobn])
	return n, addr, nil
}

func (c *stampedConn) stamp(pkt, oob []byte) {
	if at, ok := rxTimestamp(oob); ok {
		c.stamps.note(pkt, at)
	}
}

// rxTimestamp finds SCM_TIMESTAMPNS (a struct timespec) in a control message buffer.
// unix.ParseOneSocketControlMessage walks it without allocating, which
// unix.ParseSocketControlMessage would not.
func rxTimestamp(oob []byte) (int64, bool) {
	for len(oob) >= unix.CmsgLen(0) {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(data[8:16]))
			return sec*1e9 + nsec, true
		}
		oob = rest
	}
	return 0, false
}
