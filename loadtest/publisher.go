package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// opusSilence is a valid 20 ms Opus frame (CELT, fullband) that decodes to silence: the
// load generator sends real Opus packets at the real rate without encoding any audio.
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// publisher sends the clip in a loop over WHIP, stamping every access unit.
type publisher struct {
	sess  *session
	video *webrtc.TrackLocalStaticSample
	audio *webrtc.TrackLocalStaticSample
	clip  *Clip

	// keyWanted is set by a PLI or FIR: like a live encoder, the publisher then sends a
	// keyframe next (it skips ahead to the clip's next IDR).
	keyWanted atomic.Bool
}

func startPublisher(ctx context.Context, api *webrtc.API, client *http.Client, endpoint, token string, clip *Clip) (*publisher, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &publisher{clip: clip}
	p.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}, "video", "loadtest")
	if err == nil {
		p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		}, "audio", "loadtest")
	}
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	for _, t := range []*webrtc.TrackLocalStaticSample{p.video, p.audio} {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			_ = pc.Close()
			return nil, err
		}
		go p.readRTCP(tr.Sender())
	}
	connected := onConnected(pc)
	p.sess, err = negotiate(ctx, client, pc, endpoint, token)
	if err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("publish: %w", err)
	}
	if err := waitConnected(ctx, pc, connected); err != nil {
		p.sess.close()
		return nil, fmt.Errorf("publish: %w", err)
	}
	return p, nil
}

// run sends frames at the clip's rate until ctx ends, with Opus every 20 ms between them.
// Each frame's send time goes into its SEI just before it is written.
func (p *publisher) run(ctx context.Context) error {
	frameDur := time.Second / time.Duration(p.clip.FPS)
	start := time.Now()
	var audioSent time.Duration
	pos := 0 // index into the clip
	for i := uint64(0); ; i, pos = i+1, (pos+1)%len(p.clip.AUs) {
		due := start.Add(time.Duration(i) * frameDur)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		} else if ctx.Err() != nil {
			return nil
		}
		if p.keyWanted.Swap(false) {
			pos = p.clip.nextKey(pos)
		}
		au := withSEI(p.clip.AUs[pos], time.Now().UnixNano(), i)
		if err := p.video.WriteSample(media.Sample{Data: au, Duration: frameDur}); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		for ; audioSent <= time.Since(start); audioSent += 20 * time.Millisecond {
			if err := p.audio.WriteSample(media.Sample{Data: opusSilence, Duration: 20 * time.Millisecond}); err != nil {
				return fmt.Errorf("publish: %w", err)
			}
		}
	}
}

func (p *publisher) close() { p.sess.close() }

// withSEI returns the access unit with the timing SEI inserted before its first slice, where
// H.264 requires SEI to be.
func withSEI(au []byte, sendUnixNano int64, frame uint64) []byte {
	sei := timingSEI(sendUnixNano, frame)
	out := make([]byte, 0, len(au)+len(sei)+4)
	inserted := false
	for _, nal := range splitNALs(au) {
		if t := nal[0] & 0x1f; !inserted && (t == 1 || t == 5) {
			out = append(out, 0, 0, 0, 1)
			out = append(out, sei...)
			inserted = true
		}
		out = append(out, 0, 0, 0, 1)
		out = append(out, nal...)
	}
	return out
}

// readRTCP reads a sender's RTCP so pion's interceptors (NACK responder, reports) run, and
// notes keyframe requests.
func (p *publisher) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				p.keyWanted.Store(true)
			}
		}
	}
}

// onConnected returns a channel closed when pc first reaches the connected state.
func onConnected(pc *webrtc.PeerConnection) <-chan struct{} {
	ch := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(ch) })
		}
	})
	return ch
}
