package sfutest

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// jitterStream packetizes frames as a publisher would, numbering packets from 1000.
type jitterStream struct {
	pz rtp.Packetizer
}

func newJitterStream() *jitterStream {
	return &jitterStream{pz: rtp.NewPacketizer(1200, 102, 1, &codecs.H264Payloader{}, rtp.NewFixedSequencer(1000), 90000)}
}

func (s *jitterStream) frame(n uint32, key bool) []*rtp.Packet {
	return s.pz.Packetize(SizedLayerFrame(n, key, 0, 3000), 3000)
}

// popFrames returns the frame numbers the builder lets out now.
func popFrames(t *testing.T, j *jitter) []uint32 {
	t.Helper()
	var got []uint32
	for s := j.sb.Pop(); s != nil; s = j.sb.Pop() {
		n, _, _, err := ParseLayerFrame(s.Data)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	return got
}

// TestJitterKeyframeSkipsUnrepairedLoss: a packet of frame 2 is lost for good (a layer the
// viewer left); the keyframe 4 is not held back by it once a repair has had its chance,
// and frames from the keyframe on come out at once, as a browser decodes them.
func TestJitterKeyframeSkipsUnrepairedLoss(t *testing.T) {
	s, j := newJitterStream(), newJitter()
	t0 := time.Now()
	var got []uint32
	for n := uint32(0); n < 8; n++ {
		at := t0.Add(time.Duration(n) * 100 * time.Millisecond)
		for i, p := range s.frame(n, n == 0 || n == 4) {
			if n == 2 && i == 1 {
				continue // lost, never repaired
			}
			j.push(p, at)
			got = append(got, popFrames(t, j)...)
		}
	}
	// Frames 0 and 1 before the loss; 4 (the keyframe, 200 ms after the loss, still within a
	// repair's time) waits; by frame 5 the loss is 300 ms old and 4, 5 come out, then 6.
	want := []uint32{0, 1, 4, 5, 6}
	if len(got) != len(want) {
		t.Fatalf("frames out %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frames out %v, want %v", got, want)
		}
	}
}

// TestJitterRepairBeforeKeyframeKeepsEveryFrame: a loss repaired (a NACK answered) within a
// repair's time costs no frame, even with a keyframe arriving meanwhile.
func TestJitterRepairBeforeKeyframeKeepsEveryFrame(t *testing.T) {
	s, j := newJitterStream(), newJitter()
	t0 := time.Now()
	var got []uint32
	var held *rtp.Packet
	for n := uint32(0); n < 8; n++ {
		at := t0.Add(time.Duration(n) * 33 * time.Millisecond)
		for i, p := range s.frame(n, n == 0 || n == 3) {
			if n == 2 && i == 1 {
				held = p // arrives late, retransmitted
				continue
			}
			j.push(p, at)
			got = append(got, popFrames(t, j)...)
		}
		if n == 4 {
			j.push(held, at)
			got = append(got, popFrames(t, j)...)
		}
	}
	for i, n := range got {
		if n != uint32(i) {
			t.Fatalf("frames out %v, want 0..6 in order", got)
		}
	}
	if len(got) != 7 {
		t.Fatalf("frames out %v, want 0..6", got)
	}
}
