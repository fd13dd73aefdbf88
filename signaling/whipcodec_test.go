package signaling_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/signaling/auth"
)

// codecOffer is a real pion publisher's offer (sendonly) of exactly the given codecs.
func codecOffer(t *testing.T, codecs ...webrtc.RTPCodecParameters) string {
	t.Helper()
	m := &webrtc.MediaEngine{}
	var kinds []webrtc.RTPCodecType
	for _, c := range codecs {
		kind := webrtc.RTPCodecTypeVideo
		if strings.HasPrefix(c.MimeType, "audio/") {
			kind = webrtc.RTPCodecTypeAudio
		}
		if err := m.RegisterCodec(c, kind); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(kinds, kind) {
			kinds = append(kinds, kind)
		}
	}
	return engineOffer(t, m, webrtc.RTPTransceiverDirectionSendonly, kinds...)
}

var (
	av1  = webrtc.RTPCodecParameters{PayloadType: 45, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000}}
	h265 = webrtc.RTPCodecParameters{PayloadType: 49, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH265, ClockRate: 90000}}
	pcmu = webrtc.RTPCodecParameters{PayloadType: 0, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}}
	g722 = webrtc.RTPCodecParameters{PayloadType: 9, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeG722, ClockRate: 8000}}
	opus = webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}}
)

// TestWHIPNoUsableCodec (finding 4): a publisher offering only codecs Glint cannot forward
// (H.265 and AV1 video, G.722 and PCMU audio) is refused with 400 naming what it offered
// and what Glint takes, as WHEP and RTMP already do, and leaves no publisher, session or
// room behind. It used to get 201 with every m-line rejected and count as a publisher.
func TestWHIPNoUsableCodec(t *testing.T) {
	e := newEnv(t, nil)
	offer := codecOffer(t, h265, av1, g722, pcmu)
	resp, body := e.post("/whip/codecs", e.token("codecs", auth.TokenOptions{Publish: true}), "application/sdp", offer)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("POST /whip with H.265/AV1/G.722/PCMU: %s %q, want 400", resp.Status, body)
	}
	for _, want := range []string{"AV1", "H265", "G722", "PCMU", "H.264", "VP8", "Opus"} {
		if !strings.Contains(body, want) {
			t.Errorf("refusal %q does not name %s", body, want)
		}
	}
	if e.sig.Sessions() != 0 || e.sfu.Room("codecs") != nil || len(e.sfu.Rooms()) != 0 {
		t.Errorf("refused offer left state: %d sessions, rooms %v", e.sig.Sessions(), e.sfu.Rooms())
	}
}

// TestWHIPPartlyUsableOffer: an offer with one section Glint can take (Opus) and one it
// cannot (AV1) is accepted for what can be taken; the answer rejects the video section.
func TestWHIPPartlyUsableOffer(t *testing.T) {
	e := newEnv(t, nil)
	offer := codecOffer(t, opus, av1)
	resp, body := e.post("/whip/partly", e.token("partly", auth.TokenOptions{Publish: true}), "application/sdp", offer)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /whip with Opus+AV1: %s %q, want 201", resp.Status, body)
	}
	var answer sdp.SessionDescription
	if err := answer.UnmarshalString(body); err != nil {
		t.Fatal(err)
	}
	ports := map[string]int{}
	for _, m := range answer.MediaDescriptions {
		ports[m.MediaName.Media] = m.MediaName.Port.Value
	}
	if ports["audio"] == 0 || ports["video"] != 0 {
		t.Errorf("answer ports %v: want audio accepted and video rejected (port 0)", ports)
	}
}
