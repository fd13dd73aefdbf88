package sfutest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// testStream packetizes frames as a publisher would, numbering packets from 1000, and can
// put padding-only packets between frames as the SFU's probes do.
type testStream struct {
	seq    uint16
	lastTS uint32
}

func newTestStream() *testStream { return &testStream{seq: 1000} }

// frame returns frame n's packets, timestamped n*3000; size 3000 takes three packets, 600 one.
func (s *testStream) frame(n uint32, key bool, size int) []*rtp.Packet {
	pz := rtp.NewPacketizer(1200, 102, 1, &codecs.H264Payloader{}, rtp.NewFixedSequencer(s.seq), 90000)
	pkts := pz.Packetize(SizedLayerFrame(n, key, 0, size), 3000)
	for _, p := range pkts {
		p.Timestamp = n * 3000
		s.seq++
	}
	s.lastTS = n * 3000
	return pkts
}

// padding returns n padding-only packets with the last frame's timestamp.
func (s *testStream) padding(n int) []*rtp.Packet {
	var pkts []*rtp.Packet
	for range n {
		pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 102, SSRC: 1, SequenceNumber: s.seq,
			Timestamp: s.lastTS, Padding: true, PaddingSize: 255}})
		s.seq++
	}
	return pkts
}

// out collects what the assembler lets out.
type out struct {
	frames    []uint32
	afterLoss []uint32 // frames that came out after dropped ones
}

func (o *out) pop(t *testing.T, a *Assembler, now time.Time) {
	t.Helper()
	for f := a.Pop(now); f != nil; f = a.Pop(now) {
		n, _, _, err := ParseLayerFrame(f.Data)
		if err != nil {
			t.Fatal(err)
		}
		o.frames = append(o.frames, n)
		if f.AfterLoss {
			o.afterLoss = append(o.afterLoss, n)
		}
	}
}

func (o *out) want(t *testing.T, frames, afterLoss []uint32) {
	t.Helper()
	if !slices.Equal(o.frames, frames) || !slices.Equal(o.afterLoss, afterLoss) {
		t.Fatalf("frames out %v (after a loss: %v), want %v (after a loss: %v)", o.frames, o.afterLoss, frames, afterLoss)
	}
}

// TestAssemblerPaddingFillsItsNumbers: padding probes between frames, one-packet frames
// right after them, cost no frame (pion's sample builder dropped each such frame).
func TestAssemblerPaddingFillsItsNumbers(t *testing.T) {
	s, a, o := newTestStream(), NewAssembler(), &out{}
	now := time.Now()
	for n := range uint32(6) {
		for _, p := range s.frame(n, n == 0, 600) {
			a.Push(p, now)
			o.pop(t, a, now)
		}
		for _, p := range s.padding(int(n % 3 * 5)) {
			a.Push(p, now)
			o.pop(t, a, now)
		}
	}
	o.want(t, []uint32{0, 1, 2, 3, 4, 5}, nil)
}

// TestAssemblerRepairedPaddingUnblocks: a lost probe packet holds the next frame until it
// is retransmitted, then everything comes out.
func TestAssemblerRepairedPaddingUnblocks(t *testing.T) {
	s, a, o := newTestStream(), NewAssembler(), &out{}
	now := time.Now()
	push := func(pkts ...*rtp.Packet) {
		for _, p := range pkts {
			a.Push(p, now)
			o.pop(t, a, now)
		}
	}
	push(s.frame(0, true, 3000)...)
	pad := s.padding(3)
	push(pad[0], pad[2])
	push(s.frame(1, false, 600)...)
	push(s.frame(2, false, 3000)...)
	o.want(t, []uint32{0}, nil)
	push(pad[1])
	o.want(t, []uint32{0, 1, 2}, nil)
}

// TestAssemblerKeyframeSkipsUnrepairedLoss: a packet of frame 2 is lost for good (a layer
// the viewer left); the keyframe 4 is not held back by it once a repair has had its
// chance, and frames from the keyframe on come out at once, as a browser decodes them.
func TestAssemblerKeyframeSkipsUnrepairedLoss(t *testing.T) {
	s, a, o := newTestStream(), NewAssembler(), &out{}
	t0 := time.Now()
	for n := range uint32(8) {
		at := t0.Add(time.Duration(n) * 100 * time.Millisecond)
		for i, p := range s.frame(n, n == 0 || n == 4, 3000) {
			if n == 2 && i == 1 {
				continue // lost, never repaired
			}
			a.Push(p, at)
			o.pop(t, a, at)
		}
	}
	// Frames 0 and 1 before the loss; 4 (the keyframe, 200 ms after the loss, still within a
	// repair's time) waits; by frame 5 the loss is 300 ms old and 4, 5 come out, then 6, 7.
	o.want(t, []uint32{0, 1, 4, 5, 6, 7}, []uint32{4})
}

// TestAssemblerRepairBeforeKeyframeKeepsEveryFrame: a loss repaired (a NACK answered)
// within a repair's time costs no frame, even with a keyframe arriving meanwhile.
func TestAssemblerRepairBeforeKeyframeKeepsEveryFrame(t *testing.T) {
	s, a, o := newTestStream(), NewAssembler(), &out{}
	t0 := time.Now()
	var held *rtp.Packet
	for n := range uint32(8) {
		at := t0.Add(time.Duration(n) * 33 * time.Millisecond)
		for i, p := range s.frame(n, n == 0 || n == 3, 3000) {
			if n == 2 && i == 1 {
				held = p // arrives late, retransmitted
				continue
			}
			a.Push(p, at)
			o.pop(t, a, at)
		}
		if n == 4 {
			a.Push(held, at)
			o.pop(t, a, at)
		}
	}
	o.want(t, []uint32{0, 1, 2, 3, 4, 5, 6, 7}, nil)
}

// TestAssemblerGivesUpAfterASecond: a loss never repaired and no keyframe after it: after
// maxRepair the frames behind it come out, the first marked as following a loss (the
// viewer's picture is broken until a keyframe), and a late copy of the lost packet is
// ignored.
func TestAssemblerGivesUpAfterASecond(t *testing.T) {
	s, a, o := newTestStream(), NewAssembler(), &out{}
	t0 := time.Now()
	var lost *rtp.Packet
	for n := range uint32(40) {
		at := t0.Add(time.Duration(n) * 33 * time.Millisecond)
		for i, p := range s.frame(n, n == 0, 3000) {
			if n == 2 && i == 0 {
				lost = p // the frame's first packet: its other two are not a frame start
				continue
			}
			a.Push(p, at)
			o.pop(t, a, at)
		}
	}
	a.Push(lost, t0.Add(40*33*time.Millisecond))
	o.pop(t, a, t0.Add(40*33*time.Millisecond))
	want := []uint32{0, 1}
	for n := uint32(3); n < 40; n++ {
		want = append(want, n)
	}
	o.want(t, want, []uint32{3})
}

// TestAssemblerStreamJump: a stream that jumps far ahead (a new source not renumbered)
// drops what was pending, and the new stream comes out.
func TestAssemblerStreamJump(t *testing.T) {
	s, a, o := newTestStream(), NewAssembler(), &out{}
	now := time.Now()
	for i, p := range s.frame(0, true, 3000) {
		if i != 1 {
			a.Push(p, now)
		}
	}
	s2 := &testStream{seq: 6000}
	for _, p := range s2.frame(1, true, 3000) {
		a.Push(p, now)
		o.pop(t, a, now)
	}
	o.want(t, []uint32{1}, []uint32{1})
}

// TestAssemblerStalePacketIsIgnored: a retransmission far older than anything pending does
// not restart the buffer (it did: every frame pending was dropped).
func TestAssemblerStalePacketIsIgnored(t *testing.T) {
	s, a, o := newTestStream(), NewAssembler(), &out{}
	now := time.Now()
	for n := range uint32(6) {
		pkts := s.frame(n, n == 0, 3000)
		for _, p := range pkts {
			a.Push(p, now)
			o.pop(t, a, now)
		}
		if n == 2 {
			stale := *pkts[0]
			stale.SequenceNumber -= 2000
			a.Push(&stale, now)
			o.pop(t, a, now)
		}
	}
	o.want(t, []uint32{0, 1, 2, 3, 4, 5}, nil)
}

// TestAssemblerKeyframeAfterALostMarker: the packet just before a keyframe (the old layer's
// last, after a switch) is lost for good; the keyframe still skips the loss once a repair
// had its chance, because it carries an SPS and so certainly starts a frame.
func TestAssemblerKeyframeAfterALostMarker(t *testing.T) {
	s, a, o := newTestStream(), NewAssembler(), &out{}
	t0 := time.Now()
	for n := range uint32(10) {
		at := t0.Add(time.Duration(n) * 100 * time.Millisecond)
		pkts := s.frame(n, n == 0 || n == 5, 3000)
		for i, p := range pkts {
			if n == 4 && i == len(pkts)-1 {
				continue // frame 4's marker packet, never repaired
			}
			a.Push(p, at)
			o.pop(t, a, at)
		}
	}
	o.want(t, []uint32{0, 1, 2, 3, 5, 6, 7, 8, 9}, []uint32{5})
}

// TestAssemblerCutFrameIsDropped: a frame whose tail never comes, the next frame's packets
// following on without a gap (the SFU switched layers mid-frame), is not given out as
// whole: it is dropped and the next frame comes out marked as following a loss.
func TestAssemblerCutFrameIsDropped(t *testing.T) {
	s, a, o := newTestStream(), NewAssembler(), &out{}
	now := time.Now()
	for n := range uint32(5) {
		pkts := s.frame(n, n == 0, 3000)
		if n == 2 {
			pkts = pkts[:len(pkts)-1]
			s.seq-- // the next frame follows on at once
		}
		for _, p := range pkts {
			a.Push(p, now)
			o.pop(t, a, now)
		}
	}
	o.want(t, []uint32{0, 1, 3, 4}, []uint32{3})
}

// TestAssemblerLateFirstPacket: the first keyframe's parameter-set packet arrives after the
// rest of the frame (reordered); the frame still comes out whole, SPS included.
func TestAssemblerLateFirstPacket(t *testing.T) {
	s, a := newTestStream(), NewAssembler()
	now := time.Now()
	pkts := s.frame(0, true, 3000)
	for _, p := range pkts[1:] {
		a.Push(p, now)
		if f := a.Pop(now); f != nil {
			t.Fatalf("a frame came out before its first packet arrived")
		}
	}
	a.Push(pkts[0], now)
	f := a.Pop(now)
	if f == nil || !bytes.Contains(f.Data, sps) || f.AfterLoss {
		t.Fatalf("first frame %+v: want it whole with its SPS", f)
	}
}
