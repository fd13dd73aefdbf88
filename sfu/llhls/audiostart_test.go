package llhls

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// A 320x180 constrained-baseline SPS (pic_order_cnt_type 2) and its PPS, from libx264.
var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0x9f, 0x9f, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0xa4, 0x80}
	testPPS = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
)

// TestAudioFromTheFirstSegment: a host's first audio sender report comes well after its first
// video one (Chromium: ~2 s in), and audio cannot be put on the media clock before it. The
// stream must not mux video meanwhile: every segment a player can load carries audio for
// (nearly) its whole length. Before the fix the first second or two of segments had video and
// no audio at all, and hls.js, joining at the start of a stream, logged "Found no media in
// audio part", then seeked over a hole of 1.4 s (webclient/e2e/hls_latency.mjs).
func TestAudioFromTheFirstSegment(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const (
		fps          = 30
		gop          = 15 // a keyframe every half second: this host takes no keyframe requests
		audioSRAfter = 1500 * time.Millisecond
		run          = 5500 * time.Millisecond
	)
	log := sfutest.Logger()
	cfg := sfu.DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	s, err := sfu.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	room, err := s.Join("audiostart", sfu.RolePublisher)
	if err != nil {
		t.Fatal(err)
	}
	host, err := s.NewIngestPeer(log)
	if err != nil {
		t.Fatal(err)
	}
	host.OnClose(func() { room.ClearPublisher(host); room.Leave(sfu.RolePublisher) })
	defer host.Close()
	publish := func(kind webrtc.RTPCodecType, mime, fmtp string, ssrc uint32) (*sfu.Receiver, chan []byte, uint8) {
		codec, ok := sfu.IngestCodec(mime, fmtp)
		if !ok {
			t.Fatalf("no %s codec", mime)
		}
		pkts := make(chan []byte, 512)
		rcv, err := room.Publish(host, sfu.PublishedTrack{Source: sfutest.ChanSource{Packets: pkts, Stop: host.Stopping()}, Codec: codec, Kind: kind, SSRC: ssrc})
		if err != nil {
			t.Fatal(err)
		}
		if !host.Go(rcv.Run) {
			t.Fatal("host session closed")
		}
		return rcv, pkts, uint8(codec.PayloadType)
	}
	videoRcv, videoPkts, videoPT := publish(webrtc.RTPCodecTypeVideo, webrtc.MimeTypeH264, "42e01f", 1)
	audioRcv, audioPkts, audioPT := publish(webrtc.RTPCodecTypeAudio, webrtc.MimeTypeOpus, "", 2)

	o, err := New(DefaultConfig(), s, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()

	// The host: video at 30 fps and 20 ms Opus packets in real time; a sender report for
	// video at once and for audio only after audioSRAfter.
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	hostDone := make(chan error, 1)
	go func() {
		hostDone <- sendHost(ctx, videoRcv, audioRcv, videoPkts, audioPkts, videoPT, audioPT, fps, gop, audioSRAfter)
	}()

	time.Sleep(200 * time.Millisecond) // the player arrives as the host starts
	mv, err := sfutest.GetPlaylist[*playlist.Multivariant](srv.URL + "/hls/audiostart/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	if len(mv.Renditions) == 0 || mv.Renditions[0].URI == nil {
		t.Fatalf("the multivariant playlist has no audio rendition: %+v", mv)
	}
	if err := <-hostDone; err != nil {
		t.Fatal(err)
	}
	audioURL := srv.URL + "/hls/audiostart/" + *mv.Renditions[0].URI
	media, err := sfutest.GetPlaylist[*playlist.Media](audioURL)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, seg := range media.Segments {
		if seg.Gap {
			continue
		}
		got, err := audioIn(audioURL, seg.URI)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("segment %s: %v long, %v of audio", seg.URI, seg.Duration, got)
		if got < seg.Duration*8/10 {
			t.Errorf("segment %s is %v long but carries %v of audio", seg.URI, seg.Duration, got)
		}
		checked++
	}
	if checked < 2 {
		t.Fatalf("only %d segments to check in %s", checked, audioURL)
	}
}

// sendHost plays the host until ctx ends.
func sendHost(ctx context.Context, videoRcv, audioRcv *sfu.Receiver, videoPkts, audioPkts chan<- []byte, videoPT, audioPT uint8, fps, gop int, audioSRAfter time.Duration) error {
	const videoTS0, audioTS0 = 90000, 48000
	start := time.Now()
	videoRcv.OnSenderReport(&rtcp.SenderReport{SSRC: 1, NTPTime: sfu.NTP(start), RTPTime: videoTS0})
	pz := rtp.NewPacketizer(1200, videoPT, 1, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
	audioSeq, audioSent, frames, audioReported := uint16(1), 0, 0, false
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	send := func(ch chan<- []byte, p *rtp.Packet) error {
		b, err := p.Marshal()
		if err != nil {
			return err
		}
		select {
		case ch <- b:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		el := time.Since(start)
		for ; time.Duration(frames)*time.Second/time.Duration(fps) <= el; frames++ {
			au := []byte{0, 0, 0, 1, 0x41, 0x9a, byte(frames), 0x55}
			if frames%gop == 0 {
				au = append(append(append(append([]byte{0, 0, 0, 1}, testSPS...), 0, 0, 0, 1), testPPS...), 0, 0, 0, 1, 0x65, 0x88, byte(frames), 0x55)
			}
			for _, p := range pz.Packetize(au, 0) {
				p.Timestamp = uint32(videoTS0 + frames*90000/fps)
				if err := send(videoPkts, p); err != nil {
					return err
				}
			}
		}
		for ; time.Duration(audioSent)*20*time.Millisecond <= el; audioSent++ {
			p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: audioPT, SSRC: 2, SequenceNumber: audioSeq, Timestamp: uint32(audioTS0 + audioSent*960)}, Payload: []byte{0xfc, 0xff, 0xfe}}
			audioSeq++
			if err := send(audioPkts, p); err != nil {
				return err
			}
		}
		if !audioReported && el >= audioSRAfter {
			audioReported = true
			audioRcv.OnSenderReport(&rtcp.SenderReport{SSRC: 2, NTPTime: sfu.NTP(start), RTPTime: audioTS0})
		}
	}
}

// audioIn is how much audio (by its samples' durations at 48 kHz) a segment carries.
func audioIn(playlistURL, uri string) (time.Duration, error) {
	base, err := url.Parse(playlistURL)
	if err != nil {
		return 0, err
	}
	ref, err := base.Parse(uri)
	if err != nil {
		return 0, err
	}
	b, err := sfutest.Get(ref.String())
	if err != nil {
		return 0, err
	}
	var parts fmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		return 0, fmt.Errorf("%s: %w", uri, err)
	}
	var ticks uint64
	for _, p := range parts {
		for _, tr := range p.Tracks {
			for _, s := range tr.Samples {
				ticks += uint64(s.Duration)
			}
		}
	}
	return time.Duration(ticks) * time.Second / 48000, nil
}
