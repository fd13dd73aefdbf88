package sfu

import (
	"errors"
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
		{"default direction is sendrecv", "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n", RoleViewer, nil},
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

func TestCheckOfferTooManySections(t *testing.T) {
	offer := "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	for range MaxMediaSections + 1 {
		offer += "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\n"
	}
	if err := CheckOffer(offer, RolePublisher); !errors.Is(err, ErrBadOffer) {
		t.Fatalf("CheckOffer = %v, want ErrBadOffer", err)
	}
}

// FuzzCheckOffer: any bytes give nil, ErrBadOffer or ErrNoMedia, never a panic.
func FuzzCheckOffer(f *testing.F) {
	f.Add(browserOffer)
	f.Add("v=0\r\n")
	f.Add("m=video 9 x\r\n")
	f.Fuzz(func(t *testing.T, offer string) {
		for _, role := range []Role{RolePublisher, RoleViewer} {
			if err := CheckOffer(offer, role); err != nil && !errors.Is(err, ErrBadOffer) && !errors.Is(err, ErrNoMedia) {
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}
