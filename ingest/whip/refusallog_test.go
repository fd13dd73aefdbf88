package whip

import (
	"testing"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// TestRefusedMediaLogIsRateLimited (review finding 12): what a client offers is its to
// choose, so a burst of POSTs that each offer many unusable sections writes one warning,
// not one per section per POST.
func TestRefusedMediaLogIsRateLimited(t *testing.T) {
	cfg := sfu.DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.EmptyRoomTimeout = 0
	s, err := sfu.New(cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	offer := offerWithAV1Sections(t, 5)

	refusalWarn.last.Store(0) // a warning from an earlier test would hide this one
	core, logs := observer.New(zapcore.WarnLevel)
	log := zap.New(core)
	for range 3 {
		sess, _, err := Publish(s, "r", offer, log)
		if err != nil {
			t.Fatal(err)
		}
		sess.Close()
	}
	got := logs.FilterMessageSnippet("offered media refused").All()
	if len(got) != 1 {
		t.Fatalf("%d refusal warnings for 3 POSTs of 5 refused sections, want 1", len(got))
	}
	if media, _ := got[0].ContextMap()["media"].([]any); len(media) != 5 {
		t.Errorf("warning names %v, want the 5 AV1 sections", got[0].ContextMap()["media"])
	}
}

// offerWithAV1Sections is a real pion offer with an Opus section the SFU takes and n AV1
// video sections it refuses.
func offerWithAV1Sections(t *testing.T, n int) string {
	t.Helper()
	var m webrtc.MediaEngine
	for _, c := range []struct {
		codec webrtc.RTPCodecParameters
		kind  webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000}, PayloadType: 45}, webrtc.RTPCodecTypeVideo},
	} {
		if err := m.RegisterCodec(c.codec, c.kind); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(&m)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	send := webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, send); err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, send); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return offer.SDP
}
