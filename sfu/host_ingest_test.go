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

// TestHostStateFollowsMedia: a host session's room goes live on its first packet, is
// declared gone once nothing has arrived for HostTimeout (the session stays), comes back
// live (a new epoch) when media resumes, and is stopped when the session is closed.
func TestHostStateFollowsMedia(t *testing.T) {
	s := hostTestSFU(t)
	room, p, pkts := ingestHost(t, s, "watch", 64)
	if st := room.Host(); st.Live || st.Reason != "" {
		t.Fatalf("before any media: %+v", st)
	}

	pz := rtp.NewPacketizer(1200, uint8(hostCodec.PayloadType), 1, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
	send := func(ctx context.Context, first uint32) {
		tick := time.NewTicker(time.Second / 30)
		defer tick.Stop()
		for n := first; ; n++ {
			for _, pkt := range pz.Packetize(sfutest.Frame(n, n == first), 3000) {
				b, _ := pkt.Marshal()
				select {
				case pkts <- b:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}
	waitHost := func(what string, ok func(sfu.HostState) bool, within time.Duration) sfu.HostState {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			st := room.Host()
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s: %+v", what, within, st)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	first, cancelFirst := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancelFirst()
	send(first, 0)
	st := waitHost("live", func(st sfu.HostState) bool { return st.Live }, time.Second)
	if st.Epoch != 1 {
		t.Fatalf("first start: epoch %d, want 1", st.Epoch)
	}
	stopped := time.Now()
	st = waitHost("gone", func(st sfu.HostState) bool { return !st.Live }, 3*time.Second)
	if st.Reason != sfu.HostGone {
		t.Fatalf("silent host: %+v, want gone", st)
	}
	if d := time.Since(stopped); d < 900*time.Millisecond {
		t.Fatalf("declared gone %s after the last packet, before host_timeout", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	sending := make(chan struct{})
	go func() { defer close(sending); send(ctx, 100) }()
	st = waitHost("live again", func(st sfu.HostState) bool { return st.Live }, time.Second)
	if st.Epoch != 2 {
		t.Fatalf("comeback: epoch %d, want 2", st.Epoch)
	}
	cancel()
	<-sending
	p.Close()
	if st := room.Host(); st.Live || st.Reason != sfu.HostStopped {
		t.Fatalf("closed session: %+v, want stopped", st)
	}
}

// TestHostReplacedStaysLive: a host whose session is replaced by its own new session while
// live (a reconnect) stays live, in the same epoch: viewers are told nothing, even as the
// old session closes. A new session that then sends nothing is gone after HostTimeout.
// The old session's reduction (SetHostReduced) does not carry over to the new one.
func TestHostReplacedStaysLive(t *testing.T) {
	s := hostTestSFU(t)
	var room *sfu.Room
	publish := func() (*sfu.Peer, chan []byte) {
		r, p, pkts := ingestHost(t, s, "replace", 16)
		room = r
		return p, pkts
	}
	pz := rtp.NewPacketizer(1200, uint8(hostCodec.PayloadType), 1, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
	packet := func() []byte {
		b, _ := pz.Packetize(sfutest.Frame(0, true), 3000)[0].Marshal()
		return b
	}
	old, oldPkts := publish()
	defer old.Close()
	oldPkts <- packet()
	deadline := time.Now().Add(2 * time.Second)
	for !room.Host().Live {
		if time.Now().After(deadline) {
			t.Fatal("host never live")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Its ingest shed work: viewers are told why (room.quality), for this session only.
	const why = "the server cannot transcode this stream in real time"
	room.SetHostReduced(old, why)
	if st := room.Host(); st.Reduced != why || !st.Live {
		t.Fatalf("after SetHostReduced: %+v", st)
	}
	// The ladder took its work back: viewers get all the host sends again.
	room.SetHostReduced(old, "")
	if st := room.Host(); st.Reduced != "" || !st.Live {
		t.Fatalf("after SetHostReduced(\"\"): %+v", st)
	}
	room.SetHostReduced(old, why)
	next, _ := publish() // takes the stage; the old session is closed
	defer next.Close()
	if st := room.Host(); st.Reduced != "" {
		t.Fatalf("the new session inherited the old one's reduction: %+v", st)
	}
	room.SetHostReduced(old, why) // no longer the host: nothing changes
	if st := room.Host(); st.Reduced != "" {
		t.Fatalf("a replaced session reduced the new host: %+v", st)
	}
	select {
	case <-old.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("replaced session not closed")
	}
	if st := room.Host(); !st.Live || st.Epoch != 1 {
		t.Fatalf("after the replacement: %+v, want live in epoch 1", st)
	}
	// The new session never sends: it is gone after HostTimeout, not kept live forever.
	deadline = time.Now().Add(3 * time.Second)
	for room.Host().Live {
		if time.Now().After(deadline) {
			t.Fatalf("a silent replacement is still live: %+v", room.Host())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := room.Host(); st.Reason != sfu.HostGone {
		t.Fatalf("silent replacement: %+v, want gone", st)
	}
}

// TestGoneHostStoppedWhenSessionEnds: a host declared gone (silent for HostTimeout) whose
// session then ends by its owner's hand (WHIP DELETE, the RTMP connection closing) is
// stopped, not left gone forever, which would tell viewers it may still come back.
func TestGoneHostStoppedWhenSessionEnds(t *testing.T) {
	s := hostTestSFU(t)
	room, p, pkts := ingestHost(t, s, "gone-then-stopped", 4)
	pz := rtp.NewPacketizer(1200, uint8(hostCodec.PayloadType), 1, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
	b, _ := pz.Packetize(sfutest.Frame(0, true), 3000)[0].Marshal()
	pkts <- b
	deadline := time.Now().Add(4 * time.Second)
	for st := room.Host(); st.Reason != sfu.HostGone; st = room.Host() {
		if time.Now().After(deadline) {
			t.Fatalf("silent host never gone: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	gone := room.Host()
	p.Close()
	st := room.Host()
	if st.Live || st.Reason != sfu.HostStopped {
		t.Fatalf("gone host whose session ended: %+v, want stopped", st)
	}
	if st.Epoch != gone.Epoch || !st.Since.After(gone.Since) {
		t.Fatalf("stopped after gone: %+v, want epoch %d and a later since than %s", st, gone.Epoch, gone.Since)
	}
}

// hostCodec is what the host tests publish.
var hostCodec, _ = sfu.IngestCodec(webrtc.MimeTypeH264, "42e01f")

// hostTestSFU is an SFU that declares a silent host gone after a second.
func hostTestSFU(t *testing.T) *sfu.SFU {
	t.Helper()
	cfg := sfu.DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.HostTimeout = time.Second
	s, err := sfu.New(cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// ingestHost puts an ingest host session on room's stage with one H.264 track fed from
// the returned channel (queue packets deep); it leaves the stage when the session closes.
func ingestHost(t *testing.T, s *sfu.SFU, name string, queue int) (*sfu.Room, *sfu.Peer, chan []byte) {
	t.Helper()
	room, err := s.Join(name, sfu.RolePublisher)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.NewIngestPeer(sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	p.OnClose(func() { room.ClearPublisher(p); room.Leave(sfu.RolePublisher) })
	pkts := make(chan []byte, queue)
	rcv, err := room.Publish(p, sfu.PublishedTrack{Source: sfutest.ChanSource{Packets: pkts, Stop: p.Stopping()}, Codec: hostCodec, Kind: webrtc.RTPCodecTypeVideo, SSRC: 1})
	if err != nil {
		t.Fatal(err)
	}
	p.Go(rcv.Run)
	return room, p, pkts
}
