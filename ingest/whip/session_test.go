package whip_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

func newSFU(t *testing.T) *sfu.SFU {
	t.Helper()
	cfg := sfu.DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.KeyframeInterval = 100 * time.Millisecond
	cfg.EmptyRoomTimeout = 0
	s, err := sfu.New(cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// publish is an sfutest.Signal into whip.Publish; each session it makes is sent to sessions.
func publish(s *sfu.SFU, room string, sessions chan<- *whip.Session) sfutest.Signal {
	return func(_ context.Context, offer string) (string, error) {
		sess, answer, err := whip.Publish(s, room, offer, sfutest.Logger())
		if err == nil {
			sessions <- sess
		}
		return answer, err
	}
}

func subscribe(t *testing.T, s *sfu.SFU, room string) sfutest.Signal {
	return func(_ context.Context, offer string) (string, error) {
		sub, answer, err := s.Subscribe(room, offer, sfu.SubscribeOptions{MaxLayer: sfu.LayerFull}, sfutest.Logger())
		if err == nil {
			t.Cleanup(sub.Close)
		}
		return answer, err
	}
}

// waitFor polls cond until it holds or ctx ends: state that settles on other goroutines.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestPublishRegistersTracks: a pion host publishing H.264 and Opus over WHIP gets its two
// tracks onto the room's stage, and a viewer receives every frame it sends.
func TestPublishRegistersTracks(t *testing.T) {
	s := newSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := sfutest.NewViewer(ctx, subscribe(t, s, "stage"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	sessions := make(chan *whip.Session, 1)
	pub, err := sfutest.NewPublisher(ctx, publish(s, "stage", sessions))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sess := <-sessions
	if sess.Room() != s.Room("stage") {
		t.Fatalf("session room %v, want the SFU's room", sess.Room())
	}
	if err := pub.SendFrames(ctx, 0, 10, 1000, 30); err != nil {
		t.Fatal(err)
	}
	if err := v.WaitFrame(ctx, 9); err != nil {
		t.Fatalf("%v; %s", err, v.Summary())
	}
	room := s.Room("stage")
	video, audio := room.Track(webrtc.RTPCodecTypeVideo).Receiver(), room.Track(webrtc.RTPCodecTypeAudio).Receiver()
	if video == nil || audio == nil {
		t.Fatalf("stage receivers video %v audio %v, want both", video, audio)
	}
	if got := video.Codec().MimeType; !strings.EqualFold(got, webrtc.MimeTypeH264) {
		t.Errorf("video codec %s, want H.264", got)
	}
	if got := audio.Codec().MimeType; !strings.EqualFold(got, webrtc.MimeTypeOpus) {
		t.Errorf("audio codec %s, want Opus", got)
	}
	if !room.Info().Publishing {
		t.Error("room does not say it is publishing")
	}
	waitFor(ctx, t, "viewer audio", func() bool { return v.AudioPackets() > 0 })
}

// TestSecondPublisherReplacesFirst: the host reconnects with a new session while the old
// one is still up; the new one takes the stage, the old one is closed, and the viewer goes
// on receiving from the new one without doing anything.
func TestSecondPublisherReplacesFirst(t *testing.T) {
	s := newSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := sfutest.NewViewer(ctx, subscribe(t, s, "relive"))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	sessions := make(chan *whip.Session, 2)
	first, err := sfutest.NewPublisher(ctx, publish(s, "relive", sessions))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	old := <-sessions
	if err := first.SendFrames(ctx, 0, 5, 1000, 30); err != nil {
		t.Fatal(err)
	}
	if err := v.WaitFrame(ctx, 4); err != nil {
		t.Fatalf("first publisher: %v; %s", err, v.Summary())
	}
	second, err := sfutest.NewPublisher(ctx, publish(s, "relive", sessions))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	<-sessions
	select {
	case <-old.Done():
	case <-ctx.Done():
		t.Fatal("the replaced session was not closed")
	}
	if err := second.SendFrames(ctx, 100, 10, 1000, 30); err != nil {
		t.Fatal(err)
	}
	if err := v.WaitFrame(ctx, 109); err != nil {
		t.Fatalf("second publisher: %v; %s", err, v.Summary())
	}
}

// TestCloseEndsPublishing: closing the session takes its tracks off the stage and counts
// the host out, so the empty room goes.
func TestCloseEndsPublishing(t *testing.T) {
	s := newSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sessions := make(chan *whip.Session, 1)
	pub, err := sfutest.NewPublisher(ctx, publish(s, "bye", sessions))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	sess := <-sessions
	if err := pub.SendFrames(ctx, 0, 3, 1000, 30); err != nil {
		t.Fatal(err)
	}
	room := s.Room("bye")
	waitFor(ctx, t, "publishing", func() bool { return room.Info().Publishing })
	sess.Close()
	sess.Close() // idempotent
	select {
	case <-sess.Done():
	default:
		t.Fatal("Close returned before the session was done")
	}
	if room.Info().Publishing {
		t.Error("room still publishing after the session closed")
	}
	waitFor(ctx, t, "empty room removed", func() bool { return s.Room("bye") == nil })
}

// TestPublishBadOffers: offers that cannot make a broadcast are refused with their own
// error before any room or session exists.
func TestPublishBadOffers(t *testing.T) {
	s := newSFU(t)
	valid := pionOffer(t, webrtc.RTPTransceiverDirectionSendonly, nil)
	cases := []struct {
		name, room, offer string
		want              error
	}{
		{"not SDP", "r", "hello", sfu.ErrBadOffer},
		{"truncated", "r", valid[:len(valid)/3], sfu.ErrBadOffer},
		{"viewer's offer", "r", pionOffer(t, webrtc.RTPTransceiverDirectionRecvonly, nil), sfu.ErrNoMedia},
		{"AV1 only", "r", pionOffer(t, webrtc.RTPTransceiverDirectionSendonly, &webrtc.RTPCodecParameters{
			PayloadType: 45, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000}}), sfu.ErrUnsupportedCodec},
		{"bad room name", "no room", valid, roomname.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sess, answer, err := whip.Publish(s, c.room, c.offer, sfutest.Logger())
			if !errors.Is(err, c.want) {
				t.Fatalf("Publish = %v, %q, %v; want %v", sess, answer, err, c.want)
			}
			if rooms := s.Rooms(); len(rooms) != 0 {
				t.Errorf("refused offer left rooms %v", rooms)
			}
		})
	}
}

// pionOffer is a real pion offer of audio and video in direction dir, with pion's default
// codecs or, given only, just that video codec.
func pionOffer(t *testing.T, dir webrtc.RTPTransceiverDirection, only *webrtc.RTPCodecParameters) string {
	t.Helper()
	m := &webrtc.MediaEngine{}
	kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}
	if only == nil {
		if err := m.RegisterDefaultCodecs(); err != nil {
			t.Fatal(err)
		}
	} else {
		if err := m.RegisterCodec(*only, webrtc.RTPCodecTypeVideo); err != nil {
			t.Fatal(err)
		}
		kinds = kinds[1:]
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range kinds {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}
