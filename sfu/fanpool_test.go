package sfu

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// seqWriter stands in for a viewer's SRTP stream and checks what the fan-out hands it:
// every packet, once, in sequence.
type seqWriter struct {
	packets int
	last    uint16
	gaps    int
	_       [128]byte // viewers on other workers must not share its cache line (pion's streams are far larger)
}

func (w *seqWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.packets > 0 && h.SequenceNumber != w.last+1 {
		w.gaps++
	}
	w.last = h.SequenceNumber
	w.packets++
	return len(payload), nil
}

func (w *seqWriter) Write(b []byte) (int, error) { return len(b), nil }

// newPoolTrack is newBenchTrack with a fan-out pool of the given workers (one of them the
// caller) that splits from min viewers on; the viewers are dealt over the lanes in turn.
func newPoolTrack(tb testing.TB, viewers, workers, min int) (*Track, *Receiver, []*seqWriter) {
	tb.Helper()
	pool := newFanPool(workers, min)
	tb.Cleanup(pool.close)
	cfg := DefaultConfig()
	tr := newTrack(webrtc.RTPCodecTypeVideo, nil, pool, workers)
	rcv := newReceiver(tr, PublishedTrack{Codec: forwardedCodecs()[1], Kind: webrtc.RTPCodecTypeVideo, SSRC: 1}, &cfg, zap.NewNop())
	tr.attach(rcv)
	writers := make([]*seqWriter, viewers)
	for i := range viewers {
		writers[i] = &seqWriter{}
		tr.addDownTrack(newTestDownTrack(tr, writers[i], i))
		tr.setLane(tr.snapshot()[i], i%workers)
	}
	return tr, rcv, writers
}

func newTestDownTrack(tr *Track, w webrtc.TrackLocalWriter, i int) *DownTrack {
	dt := newDownTrack(tr, "video", "pool", LayerFull, zap.NewNop())
	dt.writer, dt.ssrc, dt.codecs, dt.ready = w, uint32(1000+i), forwardedCodecs(), true
	return dt
}

// frameSender builds frames of H.264 packets in a reused batch, as Receiver.Run does.
type frameSender struct {
	tr      *Track
	rcv     *Receiver
	b       *frameBatch
	seq     uint16
	ts      uint32
	payload []byte
}

func newFrameSender(tr *Track, rcv *Receiver) *frameSender {
	return &frameSender{tr: tr, rcv: rcv, b: newFrameBatch(maxBatch), seq: 1, payload: make([]byte, 1200)}
}

// frame forwards one frame of n packets (a keyframe if key) and returns the packets sent.
func (f *frameSender) frame(n int, key bool) {
	f.ts += 3000
	now := time.Now().UnixNano()
	for i := range n {
		s := &f.b.slots[i]
		s.pkt = rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: 1, SequenceNumber: f.seq, Timestamp: f.ts, Marker: i == n-1}, Payload: f.payload}
		s.keyframe, s.arrival = key && i == 0, now
		f.seq++
	}
	f.payload[0] = 0x41
	if key {
		f.payload[0] = 0x65
	}
	f.tr.forwardBatch(f.rcv, f.b.slots[:n])
}

// sized forwards one delta frame whose packets have the given payload sizes, as an encoder
// that cuts frames into slices sends them (each slice's last fragment shorter).
func (f *frameSender) sized(sizes ...int) {
	f.ts += 3000
	now := time.Now().UnixNano()
	f.payload[0] = 0x41
	for i, size := range sizes {
		s := &f.b.slots[i]
		s.pkt = rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: 1, SequenceNumber: f.seq, Timestamp: f.ts, Marker: i == len(sizes)-1}, Payload: f.payload[:size]}
		s.keyframe, s.arrival = false, now
		f.seq++
	}
	f.tr.forwardBatch(f.rcv, f.b.slots[:len(sizes)])
}

// TestParallelFanoutKeepsEachViewersOrder: with the fan-out split over four workers, while
// viewers join, leave and change lanes under it, every viewer present throughout gets every
// packet of every frame once and in order. Run with -race, it also checks that the workers
// and the batch they share do not race.
func TestParallelFanoutKeepsEachViewersOrder(t *testing.T) {
	const viewers, frames = 64, 600
	tr, rcv, writers := newPoolTrack(t, viewers, 4, 1)
	f := newFrameSender(tr, rcv)

	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Add(1)
	go func() { // joins, leaves and lane moves during the fan-out
		defer churn.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			dt := newTestDownTrack(tr, &seqWriter{}, viewers+i)
			tr.addDownTrack(dt)
			tr.setLane(tr.snapshot()[i%viewers], (i+1)%4)
			tr.removeDownTrack(dt)
			time.Sleep(100 * time.Microsecond)
		}
	}()
	sent := 0
	for i := range frames {
		n := 1 + i%20
		f.frame(n, i%30 == 0)
		sent += n
	}
	close(stop)
	churn.Wait()

	for i, w := range writers {
		if w.packets != sent || w.gaps != 0 {
			t.Fatalf("viewer %d got %d of %d packets with %d breaks in sequence", i, w.packets, sent, w.gaps)
		}
	}
}

// TestParallelFanoutDoesNotAllocate guards BenchmarkFanoutParallel's claim in the ordinary
// test run: handing shares to the workers allocates nothing per frame.
func TestParallelFanoutDoesNotAllocate(t *testing.T) {
	tr, rcv, _ := newPoolTrack(t, 64, 4, 1)
	f := newFrameSender(tr, rcv)
	f.frame(5, true)
	allocs := testing.AllocsPerRun(200, func() { f.frame(5, false) })
	if allocs != 0 {
		t.Fatalf("the parallel fan-out allocates %.1f times per frame", allocs)
	}
}

// BenchmarkFanoutParallel1000 forwards one 10-packet frame to 1,000 viewers per op, split
// over GOMAXPROCS workers (run with -cpu 1,2,4 to see it scale); compare ns/op per packet
// with BenchmarkFanout100. It must not allocate.
func BenchmarkFanoutParallel1000(b *testing.B) {
	workers := DefaultConfig().fanoutWorkers()
	tr, rcv, writers := newPoolTrack(b, 1000, workers, DefaultConfig().FanoutParallelMin)
	f := newFrameSender(tr, rcv)
	f.frame(10, true)
	b.ReportAllocs()
	b.SetBytes(int64(len(f.payload) * 10 * 1000))
	b.ResetTimer()
	for range b.N {
		f.frame(10, false)
	}
	b.StopTimer()
	if w := writers[999]; w.packets != (b.N+1)*10 || w.gaps != 0 {
		b.Fatalf("last viewer got %d packets (%d breaks), want %d", w.packets, w.gaps, (b.N+1)*10)
	}
}

// socketWriter stands in for a viewer's SRTP stream on the real media socket: it writes the
// packet, header rebuilt, to the viewer's address through the batchConn, as pion would
// after encrypting it.
type socketWriter struct {
	conn *batchConn
	addr netip.AddrPort
	buf  [maxPacketSize]byte
	_    [128]byte
}

func (w *socketWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	n, err := h.MarshalTo(w.buf[:])
	if err != nil {
		return 0, err
	}
	n += copy(w.buf[n:], payload)
	return w.conn.WriteToAddrPort(w.buf[:n], w.addr)
}

func (w *socketWriter) Write(b []byte) (int, error) { return len(b), nil }

// connBatcher brackets shares on one batchConn, as the engine does on each of its sockets.
type connBatcher struct{ c *batchConn }

func (b connBatcher) beginBatch(lane int) { b.c.begin(lane) }
func (b connBatcher) endBatch(lane int)   { b.c.end(lane) }

// BenchmarkFanoutSockets200 forwards one 10-packet frame to 200 viewers per op through the
// real send path (lanes, GSO, the kernel's loopback), split over GOMAXPROCS workers: with
// -cpu 1,2 it shows whether the socket, not only the SFU's own work, scales across cores.
// The viewers' sockets are never read, so the kernel drops what overflows them after
// doing the sending work, which is what is measured. SRTP is left out (pion's cost, per
// viewer, which only adds parallel work).
func BenchmarkFanoutSockets200(b *testing.B) {
	const viewers = 200
	workers := DefaultConfig().fanoutWorkers()
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	conn := newBatchConn(tx, workers)
	defer conn.Close()
	pool := newFanPool(workers, 1)
	defer pool.close()
	cfg := DefaultConfig()
	tr := newTrack(webrtc.RTPCodecTypeVideo, connBatcher{conn}, pool, workers)
	rcv := newReceiver(tr, PublishedTrack{Codec: forwardedCodecs()[1], Kind: webrtc.RTPCodecTypeVideo, SSRC: 1}, &cfg, zap.NewNop())
	tr.attach(rcv)
	for i := range viewers {
		rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer rx.Close()
		addr := rx.LocalAddr().(*net.UDPAddr).AddrPort()
		dt := newTestDownTrack(tr, &socketWriter{conn: conn, addr: addr}, i)
		tr.addDownTrack(dt)
		tr.setLane(dt, laneOf(addr, workers))
	}
	f := newFrameSender(tr, rcv)
	f.frame(10, true)
	b.ReportAllocs()
	b.SetBytes(int64(len(f.payload) * 10 * viewers))
	b.ResetTimer()
	for range b.N {
		f.frame(10, false)
	}
}

// BenchmarkFanoutSocketsSliced is the socket fan-out of what an x264 host sends: a frame
// cut into three slices (each ending in a shorter packet, so three GSO runs per viewer),
// then a frame of one packet, to 100 viewers on one worker. One flush per viewer, or per
// few viewers for the one-packet frame, each one sendmmsg, is what it measures. b.N counts
// the pair.
func BenchmarkFanoutSocketsSliced(b *testing.B) {
	const viewers = 100
	tr, rcv, _ := newSocketTrack(b, viewers, 1)
	f := newFrameSender(tr, rcv)
	f.frame(1, true)
	b.ReportAllocs()
	b.SetBytes(int64((3*1200 + 3*700 + 200) * viewers))
	b.ResetTimer()
	for range b.N {
		f.sized(1200, 700, 1200, 700, 1200, 700)
		f.sized(200)
	}
}

// TestCoalescedFanoutDeliversInOrder: viewers on one lane share flushes (forwardShare), a
// flush holds several viewers' runs of different sizes and is one sendmmsg, and 40 viewers'
// one-packet shares are split into two flushes at coalesceDatagrams; every viewer must still
// get every packet once and in order, over real sockets, with GSO and without, on one lane
// and on two.
func TestCoalescedFanoutDeliversInOrder(t *testing.T) {
	const viewers, rounds = 40, 10
	for _, c := range []struct {
		gso   bool
		lanes int
	}{{true, 1}, {false, 1}, {true, 2}} {
		t.Run(fmt.Sprintf("gso=%v,lanes=%d", c.gso, c.lanes), func(t *testing.T) {
			tr, rcv, rx := newSocketTrack(t, viewers, c.lanes)
			tr.batcher.(connBatcher).c.gso.Store(c.gso)
			f := newFrameSender(tr, rcv)
			f.frame(1, true)
			for range rounds {
				f.sized(1200, 700, 1200, 700, 1200, 300)
				f.sized(200)
			}
			const want = 1 + rounds*7
			buf := make([]byte, 2000)
			for i, c := range rx {
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				var last uint16
				for k := range want {
					n, _, err := c.ReadFromUDP(buf)
					if err != nil {
						t.Fatalf("viewer %d: packet %d of %d: %v", i, k+1, want, err)
					}
					var p rtp.Packet
					if err := p.Unmarshal(buf[:n]); err != nil {
						t.Fatalf("viewer %d: %v", i, err)
					}
					if k > 0 && p.SequenceNumber != last+1 {
						t.Fatalf("viewer %d: sequence %d after %d", i, p.SequenceNumber, last)
					}
					last = p.SequenceNumber
				}
			}
			time.Sleep(20 * time.Millisecond) // for a duplicate still on its way
			for i, c := range rx {
				_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
				if _, _, err := c.ReadFromUDP(buf); err == nil {
					t.Fatalf("viewer %d: a packet more than the %d sent", i, want)
				}
			}
		})
	}
}

// newSocketTrack is a video track whose viewers are real loopback sockets, sent to through
// one batchConn of the given lanes, with each viewer on its address's lane (as the engine
// places them); it returns the viewers' sockets, unread.
func newSocketTrack(tb testing.TB, viewers, lanes int) (*Track, *Receiver, []*net.UDPConn) {
	conn := loopbackBatchConn(tb, lanes)
	cfg := DefaultConfig()
	tr := newTrack(webrtc.RTPCodecTypeVideo, connBatcher{conn}, nil, lanes)
	rcv := newReceiver(tr, PublishedTrack{Codec: forwardedCodecs()[1], Kind: webrtc.RTPCodecTypeVideo, SSRC: 1}, &cfg, zap.NewNop())
	tr.attach(rcv)
	rx := make([]*net.UDPConn, viewers)
	for i := range rx {
		c := loopbackUDP(tb)
		rx[i] = c
		_ = c.SetReadBuffer(1 << 20) // what a test sends waits here unread
		addr := c.LocalAddr().(*net.UDPAddr).AddrPort()
		dt := newTestDownTrack(tr, &socketWriter{conn: conn, addr: addr}, i)
		tr.addDownTrack(dt)
		tr.setLane(dt, laneOf(addr, lanes))
	}
	return tr, rcv, rx
}
