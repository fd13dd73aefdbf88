package signaling_test

import (
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestRandomBytesOnUDPPort: junk datagrams on the shared media port (STUN-looking, DTLS-
// looking, RTP-looking and plain random) are dropped without disturbing a live session.
func TestRandomBytesOnUDPPort(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/noise", e.token("noise", auth.TokenOptions{Publish: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	viewer, err := sfutest.NewViewer(ctx, e.signal("/whep/noise", e.token("noise", auth.TokenOptions{Subscribe: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()

	conn, err := net.DialUDP("udp4", nil, e.sfu.UDPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for i := range 5000 { // bounded: about 5,000 datagrams
			n := 1 + rng.IntN(len(buf)-1)
			for j := range buf[:n] {
				buf[j] = byte(rng.Uint32())
			}
			switch i % 4 { // first bytes that route to each demultiplexer path
			case 0:
				buf[0], buf[1] = 0x00, 0x01 // STUN binding request
			case 1:
				buf[0] = 22 // DTLS handshake
			case 2:
				buf[0] = 0x80 // RTP
			}
			_, _ = conn.Write(buf[:n])
			if i%100 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	if err := pub.SendFrames(ctx, 0, 60, 30, 30); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := viewer.WaitFrame(ctx, 59); err != nil {
		t.Fatal(err)
	}
	// The viewer may start a frame or two in: the server side of its session can finish
	// connecting just after the client side, and it then starts at the next keyframe.
	frames := viewer.Frames()
	if len(frames) == 0 || frames[0] > 3 {
		t.Fatalf("viewer started at %v", frames[:min(len(frames), 1)])
	}
	if err := viewer.Check(seq(frames[0], 59)); err != nil {
		t.Fatalf("%v; %s", err, viewer.Summary())
	}
}

func seq(from, to uint32) []uint32 {
	var s []uint32
	for n := from; n <= to; n++ {
		s = append(s, n)
	}
	return s
}
