package sfu

import (
	"errors"
	"strings"
	"testing"
)

const browserOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\n"

func TestCheckOffer(t *testing.T) {
	cases := []struct {
		name  string
		offer string
		role  Role
		want  error
	}{
		{"publisher sends", browserOffer, RolePublisher, nil},
		{"viewer with sendonly offer", browserOffer, RoleViewer, ErrNoMedia},
		{"not sdp", "hello", RolePublisher, ErrBadOffer},
		{"empty", "", RolePublisher, ErrBadOffer},
		{"no media", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", RolePublisher, ErrNoMedia},
		{"only data channel", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n", RolePublisher, ErrNoMedia},
		{"rejected section", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n", RolePublisher, ErrNoMedia},
		{"default direction is sendrecv", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 VP8/90000\r\n", RoleViewer, nil},
		{"no forwarded codec", unusableOffer, RolePublisher, ErrUnsupportedCodec},
		{"no forwarded codec, viewer", strings.ReplaceAll(unusableOffer, "sendonly", "recvonly"), RoleViewer, ErrUnsupportedCodec},
		{"H.264 High 10 only", sdpHead + "m=video 9 UDP/TLS/RTP/SAVPF 100\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\na=rtpmap:100 H264/90000\r\na=fmtp:100 packetization-mode=1;profile-level-id=6e001f\r\n", RolePublisher, ErrUnsupportedCodec},
		{"H.264 main", sdpHead + "m=video 9 UDP/TLS/RTP/SAVPF 100\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\na=rtpmap:100 H264/90000\r\na=fmtp:100 packetization-mode=1;profile-level-id=4d0032\r\n", RolePublisher, nil},
		{"one usable section", partlyUsableOffer, RolePublisher, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckOffer(c.offer, c.role)
			if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("CheckOffer = %v, want %v", err, c.want)
			}
		})
	}
}

const sdpHead = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

// unusableOffer sends G.722 and PCMU (static payload types, no rtpmap) and H.265 and AV1.
const unusableOffer = sdpHead +
	"m=audio 9 UDP/TLS/RTP/SAVPF 9 0 101\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:101 telephone-event/8000\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 49 45 46\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendonly\r\na=rtpmap:49 H265/90000\r\na=rtpmap:45 AV1/90000\r\na=rtpmap:46 rtx/90000\r\na=fmtp:46 apt=45\r\n"

// partlyUsableOffer sends Opus, which the SFU takes, and AV1, which it does not.
const partlyUsableOffer = sdpHead +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 45\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendonly\r\na=rtpmap:45 AV1/90000\r\n"

// TestUnsupportedCodecNamed: the refusal names every offered codec and what is accepted,
// so a host sees what to change in its encoder settings.
func TestUnsupportedCodecNamed(t *testing.T) {
	err := CheckOffer(unusableOffer, RolePublisher)
	for _, want := range []string{"audio (G722, PCMU)", "video (H265, AV1)", "H.264", "VP8", "Opus"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
	refused := OfferRefusals(partlyUsableOffer, RolePublisher)
	if len(refused) != 1 || refused[0].String() != "video (AV1)" || refused[0].MID != "1" {
		t.Errorf("OfferRefusals = %v, want the AV1 video section", refused)
	}
}

func TestCheckOfferTooManySections(t *testing.T) {
	offer := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	for range MaxMediaSections + 1 {
		offer += "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n"
	}
	if err := CheckOffer(offer, RolePublisher); !errors.Is(err, ErrBadOffer) {
		t.Fatalf("CheckOffer = %v, want ErrBadOffer", err)
	}
}

// FuzzCheckOffer: any bytes give nil, ErrBadOffer, ErrNoMedia or ErrUnsupportedCodec, never
// a panic.
func FuzzCheckOffer(f *testing.F) {
	f.Add(browserOffer)
	f.Add("v=0\r\n")
	f.Add("m=video 9 x\r\n")
	f.Fuzz(func(t *testing.T, offer string) {
		for _, role := range []Role{RolePublisher, RoleViewer} {
			if err := CheckOffer(offer, role); err != nil && !errors.Is(err, ErrBadOffer) && !errors.Is(err, ErrNoMedia) && !errors.Is(err, ErrUnsupportedCodec) {
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}
