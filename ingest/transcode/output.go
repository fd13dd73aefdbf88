package transcode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// output is one ffmpeg output (a rendition, or the Opus audio): the RTP and RTCP sockets it
// sends to, which live as long as the Ladder so the Track survives ffmpeg restarts, and the
// reader goroutines that splice each process's packets onto one continuous stream.
type output struct {
	ssrc        uint32
	payloadType uint8
	clockRate   uint32
	src         *queueSource

	rtp, rtcp *net.UDPConn
	// ports is the peer (high 32 bits) and the next process (low 32), each as ffmpeg's
	// local RTP port (high 16 bits of the 32) and RTCP port (low 16), in one word so that
	// the reader's switch (takeOver) cannot undo the supervisor's expect or forget. The
	// peer is the current process; packets from anywhere else (a previous process's
	// leftovers) are ignored. Next is a process being handed over to (0 when none): the
	// peer goes on until next's first RTP packet, which makes next the peer (process.go).
	ports atomic.Uint64
	// segment is the segment's RTP port (high 32 bits) and the munger's timestamp offset
	// (low 32), published for the RTCP reader to translate sender reports.
	segment atomic.Uint64
	mung    munger // readRTP only

	activity *atomic.Int64 // the ladder's last output, unix nanos: what stall detection watches
	onSR     atomic.Pointer[func(*rtcp.SenderReport)]
	// early holds a process's sender report that came before its first RTP packet (ffmpeg
	// sends one just before), when its timestamp offset was not known yet: readRTP passes it
	// on with that packet, rather than leave the room without a media clock for 5 s.
	early atomic.Pointer[earlyReport]
}

type earlyReport struct {
	port uint16 // the process's RTP port
	sr   rtcp.SenderReport
}

func newOutput(ssrc uint32, pt uint8, clockRate uint32, src *queueSource, activity *atomic.Int64) (*output, error) {
	o := &output{ssrc: ssrc, payloadType: pt, clockRate: clockRate, src: src, activity: activity}
	var err error
	if o.rtp, err = listenLoopback(); err != nil {
		return nil, err
	}
	if o.rtcp, err = listenLoopback(); err != nil {
		o.rtp.Close()
		return nil, err
	}
	return o, nil
}

func listenLoopback() (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("transcode: output socket: %w", err)
	}
	// A 1080p keyframe is a burst of a few hundred packets; the default buffer may not hold it
	// while the reader is descheduled. The kernel caps this at net.core.rmem_max.
	_ = c.SetReadBuffer(2 << 20)
	return c, nil
}

// target tells ffmpeg where to send, from which local ports (localRTP, localRTCP).
func (o *output) target(localRTP, localRTCP int) rtpTarget {
	return rtpTarget{
		Port: o.rtp.LocalAddr().(*net.UDPAddr).Port, RTCPPort: o.rtcp.LocalAddr().(*net.UDPAddr).Port,
		LocalPort: localRTP, LocalRTCPPort: localRTCP, SSRC: o.ssrc, PayloadType: o.payloadType,
	}
}

// expect takes a new ffmpeg process's ports: readRTP and readRTCP take datagrams from
// them alone (the sockets are bound to 127.0.0.1, so only a local process can send, and
// only ffmpeg holds those ports while it runs). With handover the process running now
// goes on until the new one's first RTP packet (takeOver).
//
// The sockets are not connect(2)ed to ffmpeg's ports, as they were: that filters the same
// datagrams in the kernel, but a connected socket cannot take a second process's packets
// during a handover, and disconnecting one bound to an ephemeral port gives its port up.
func (o *output) expect(localRTP, localRTCP int, handover bool) {
	ports := uint32(localRTP)<<16 | uint32(localRTCP)
	if peer, _ := o.peers(); handover && peer != 0 {
		o.ports.Store(uint64(peer)<<32 | uint64(ports))
		return
	}
	o.ports.Store(uint64(ports) << 32)
}

// peers is the current process's ports and the next one's (0: none).
func (o *output) peers() (peer, next uint32) {
	p := o.ports.Load()
	return uint32(p >> 32), uint32(p)
}

// takeOver makes the process being handed over to (next) the peer, on its first RTP
// packet, if peer and next are still what they were: the old one's packets are ignored
// from here. It reports whether it did. readRTP only.
func (o *output) takeOver(peer, next uint32) bool {
	return o.ports.CompareAndSwap(uint64(peer)<<32|uint64(next), uint64(next)<<32)
}

// handedOver reports whether no handover is under way on this output.
func (o *output) handedOver() bool {
	_, next := o.peers()
	return next == 0
}

// keep calls off a handover that has not happened: the output goes on with peer (the
// process being handed over from) and no longer waits for the next one. It reports false
// when peer is no longer the output's (the next process took over).
func (o *output) keep(peer uint32) bool {
	for {
		p := o.ports.Load()
		if uint32(p>>32) != peer {
			return false
		}
		if o.ports.CompareAndSwap(p, uint64(peer)<<32) {
			return true
		}
	}
}

// forget makes the output take nothing more (a shed rung: its track has ended).
func (o *output) forget() { o.ports.Store(0) }

// readRTP is the output's RTP reader: it owns the munger.
func (o *output) readRTP() {
	for {
		p := packetPool.Get().(*packet)
		n, from, err := o.rtp.ReadFromUDPAddrPort(p.buf[:])
		if err != nil {
			packetPool.Put(p)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient error must not end the track
		}
		peer, next := o.peers()
		if next != 0 && o.accept(from, p.buf[:n], uint16(next>>16)) {
			// The new process's first packet: its stream from here, unless the supervisor
			// has meanwhile moved on (another process, or the rung shed).
			if !o.takeOver(peer, next) {
				packetPool.Put(p)
				continue
			}
		} else if !o.accept(from, p.buf[:n], uint16(peer>>16)) {
			packetPool.Put(p)
			continue
		}
		now := time.Now().UnixNano()
		seq, ts := binary.BigEndian.Uint16(p.buf[2:]), binary.BigEndian.Uint32(p.buf[4:])
		newSegment := !o.mung.started || o.mung.segment != from.Port()
		seq, ts = o.mung.rewrite(from.Port(), seq, ts, now, o.clockRate)
		binary.BigEndian.PutUint16(p.buf[2:], seq)
		binary.BigEndian.PutUint32(p.buf[4:], ts)
		o.segment.Store(uint64(from.Port())<<32 | uint64(o.mung.tsOffset))
		if newSegment {
			if e := o.early.Swap(nil); e != nil && e.port == from.Port() {
				o.report(&e.sr, o.mung.tsOffset)
			}
		}
		o.activity.Store(now)
		p.n = n
		o.src.push(p)
	}
}

// loopback is where ffmpeg sends from.
var loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// accept reports whether b is an RTP packet of ours from port (a process's) on loopback.
func (o *output) accept(from netip.AddrPort, b []byte, port uint16) bool {
	return port != 0 && from.Port() == port && from.Addr().Unmap() == loopback && len(b) >= 12 && b[0]>>6 == 2 &&
		binary.BigEndian.Uint32(b[8:]) == o.ssrc
}

// readRTCP passes ffmpeg's sender reports on, their RTP time moved into the munged
// timeline, so the SFU keeps a media clock (and viewers lip sync) for RTMP hosts too.
func (o *output) readRTCP() {
	var buf [1500]byte
	for {
		n, from, err := o.rtcp.ReadFromUDPAddrPort(buf[:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		peer, next := o.peers()
		if from.Addr().Unmap() != loopback {
			continue
		} else if next != 0 && from.Port() == uint16(next) {
			peer = next // a process being handed over to: its report waits for its RTP (early)
		} else if from.Port() != uint16(peer) || peer == 0 {
			continue
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			sr, ok := p.(*rtcp.SenderReport)
			if !ok || sr.SSRC != o.ssrc {
				continue
			}
			seg := o.segment.Load()
			if uint16(seg>>32) != uint16(peer>>16) {
				// This process has sent no RTP yet: its offset is not known. readRTP
				// passes the report on with the first packet.
				o.early.Store(&earlyReport{port: uint16(peer >> 16), sr: *sr})
				continue
			}
			o.report(sr, uint32(seg))
		}
	}
}

// report passes a sender report on with its RTP time moved by the munger's offset.
func (o *output) report(sr *rtcp.SenderReport, tsOffset uint32) {
	if f := o.onSR.Load(); f != nil {
		sr.RTPTime += tsOffset
		(*f)(sr)
	}
}

func (o *output) close() {
	o.rtp.Close()
	o.rtcp.Close()
}

// reservePorts finds n free loopback UDP ports for ffmpeg to bind. They are released before
// ffmpeg starts; should another process take one meanwhile, ffmpeg fails to bind and the
// supervisor retries with fresh ports.
func reservePorts(n int) ([]int, error) {
	conns := make([]*net.UDPConn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, fmt.Errorf("transcode: reserve a port for ffmpeg: %w", err)
		}
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	return ports, nil
}
