package sfu_test

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// TestIngestPeerPublishes: a host session without a PeerConnection (RTMP ingest) publishes
// through the same Room.Publish as WHIP, a WebRTC viewer receives every frame, and closing
// the session ends its Receiver.
func TestIngestPeerPublishes(t *testing.T) {
	const frames = 40
	s := newTestSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := sfutest.Logger()

	room, err := s.Join("rtmp", sfu.RolePublisher)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.NewIngestPeer(log)
	if err != nil {
		t.Fatal(err)
	}
	p.OnClose(func() { room.ClearPublisher(p); room.Leave(sfu.RolePublisher) })
	pkts := make(chan []byte, 64)
	codec, ok := sfu.IngestCodec(webrtc.MimeTypeH264, "42e01f")
	if !ok {
		t.Fatal("no constrained-baseline H.264 codec")
	}
	if _, ok := sfu.IngestCodec(webrtc.MimeTypeH264, "f4001f"); ok {
		t.Fatal("High 4:4:4 H.264 was accepted: no browser decodes it")
	}
	rcv, err := room.Publish(p, sfu.PublishedTrack{Source: sfutest.ChanSource{Packets: pkts, Stop: p.Stopping()}, Codec: codec, Kind: webrtc.RTPCodecTypeVideo, SSRC: 1234})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Go(rcv.Run) {
		t.Fatal("session closed before the track started")
	}

	v, err := sfutest.NewViewer(ctx, subscriber(t, s, "rtmp"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	pz := rtp.NewPacketizer(1200, uint8(codec.PayloadType), 1234, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	for n := range uint32(frames + 1) {
		for _, pkt := range pz.Packetize(sfutest.Frame(n, n%15 == 0), 3000) {
			b, err := pkt.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			pkts <- b
		}
		<-tick.C
	}
	if err := v.WaitFrame(ctx, frames-1); err != nil {
		t.Fatalf("%v; %s", err, v.Summary())
	}
	// The viewer may have joined after frame 0: it must start at a keyframe and miss nothing after.
	got := v.Frames()
	if len(got) == 0 || got[0]%15 != 0 {
		t.Fatalf("viewer did not start at a keyframe: %v", got)
	}
	for i, n := range got {
		if n != got[0]+uint32(i) {
			t.Fatalf("frames not consecutive: %v", got)
		}
	}
	if err := v.CheckContinuity(); err != nil { // video only: this host sends no audio
		t.Fatalf("%v; %s", err, v.Summary())
	}

	p.Close()
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatal("ingest session did not close")
	}
	if room.Info().Publishing {
		t.Fatalf("room still has the closed host on stage: %+v", room.Info())
	}
}
