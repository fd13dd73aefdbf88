package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// opusSilence is a valid 20 ms Opus frame (CELT, fullband) that decodes to silence: the
// load generator sends real Opus packets at the real rate without encoding any audio.
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// publisher sends the clip in a loop over WHIP, stamping every access unit. With simulcast
// it sends one clip per layer (q, h, f), each frame of every layer stamped alike.
type publisher struct {
	sess  *session
	video *webrtc.TrackLocalStaticSample // without simulcast
	audio *webrtc.TrackLocalStaticSample
	clip  *Clip // the top layer's: pacing and keyframe positions

	layers []simLayer // with simulcast, lowest first
	// pion writes no mid/rid header extensions: a simulcast sender adds them, as browsers do.
	midID, ridID uint8
	mid          string

	// keyWanted is set by a PLI or FIR: like a live encoder, the publisher then sends a
	// keyframe next (it skips ahead to the clip's next IDR).
	keyWanted atomic.Bool
	// sending is, per frame, the time from its stamp to its last packet written: a
	// publisher slowed by the viewers beside it on the client's cores shows here, and
	// adds to every frame latency.
	sending Histogram
}

// simLayer is one simulcast encoding.
type simLayer struct {
	rid   string
	clip  *Clip
	track *webrtc.TrackLocalStaticRTP
	pack  rtp.Packetizer
}

var h264Capability = webrtc.RTPCodecCapability{
	MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
	SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
}

// startPublisher publishes clips[0] alone, or with three clips (lowest first) as simulcast
// layers q, h and f.
func startPublisher(ctx context.Context, api *webrtc.API, client *http.Client, endpoint, token string, clips []*Clip) (*publisher, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	p := &publisher{clip: clips[len(clips)-1]}
	if err := p.addTracks(pc, clips); err != nil {
		_ = pc.Close()
		return nil, err
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
	if len(p.layers) > 0 {
		for _, tr := range pc.GetTransceivers() {
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				p.mid = tr.Mid()
			}
		}
		if p.midID == 0 || p.ridID == 0 || p.mid == "" {
			p.sess.close()
			return nil, fmt.Errorf("publish: the server did not accept simulcast (no mid/rid header extensions)")
		}
	}
	return p, nil
}

func (p *publisher) addTracks(pc *webrtc.PeerConnection, clips []*Clip) error {
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
	}, "audio", "loadtest")
	if err != nil {
		return err
	}
	p.audio = audio
	if len(clips) == 1 {
		if p.video, err = webrtc.NewTrackLocalStaticSample(h264Capability, "video", "loadtest"); err != nil {
			return err
		}
		return p.addSendonly(pc, p.video, p.audio)
	}
	for i, rid := range []string{"q", "h", "f"} {
		t, err := webrtc.NewTrackLocalStaticRTP(h264Capability, "video", "loadtest", webrtc.WithRTPStreamID(rid))
		if err != nil {
			return err
		}
		p.layers = append(p.layers, simLayer{rid: rid, clip: clips[i], track: t,
			pack: rtp.NewPacketizer(1200, 0, 0, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)})
	}
	tr, err := pc.AddTransceiverFromTrack(p.layers[0].track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return err
	}
	sender := tr.Sender()
	for _, l := range p.layers[1:] {
		if err := sender.AddEncoding(l.track); err != nil {
			return err
		}
	}
	for _, l := range p.layers {
		go p.readSimulcastRTCP(sender, l.rid)
	}
	for _, ext := range sender.GetParameters().HeaderExtensions {
		switch ext.URI {
		case sdp.SDESMidURI:
			p.midID = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			p.ridID = uint8(ext.ID)
		}
	}
	return p.addSendonly(pc, p.audio)
}

func (p *publisher) addSendonly(pc *webrtc.PeerConnection, tracks ...webrtc.TrackLocal) error {
	for _, t := range tracks {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return err
		}
		go p.readRTCP(tr.Sender())
	}
	return nil
}

// writeFrame sends frame i (clip position pos) on the video track or every layer.
func (p *publisher) writeFrame(pos int, i uint64, frameDur time.Duration) error {
	sent := time.Now().UnixNano()
	defer func() { p.sending.Record(time.Duration(time.Now().UnixNano() - sent)) }()
	if len(p.layers) == 0 {
		return p.video.WriteSample(media.Sample{Data: withSEI(p.clip.AUs[pos], sent, i), Duration: frameDur})
	}
	for _, l := range p.layers {
		au := withSEI(l.clip.AUs[pos%len(l.clip.AUs)], sent, i)
		for _, pkt := range l.pack.Packetize(au, uint32(frameDur*90000/time.Second)) {
			_ = pkt.Header.SetExtension(p.midID, []byte(p.mid))
			_ = pkt.Header.SetExtension(p.ridID, []byte(l.rid))
			if err := l.track.WriteRTP(pkt); err != nil {
				return err
			}
		}
	}
	return nil
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
		if err := p.writeFrame(pos, i, frameDur); err != nil {
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

// readSimulcastRTCP reads one layer's RTCP (pion keeps a stream per encoding).
func (p *publisher) readSimulcastRTCP(s *webrtc.RTPSender, rid string) {
	for {
		pkts, _, err := s.ReadSimulcastRTCP(rid)
		if err != nil {
			return
		}
		p.noteKeyframeRequests(pkts)
	}
}

// readRTCP reads a sender's RTCP so pion's interceptors (NACK responder, reports) run, and
// notes keyframe requests.
func (p *publisher) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		p.noteKeyframeRequests(pkts)
	}
}

// noteKeyframeRequests makes the next frame a keyframe on every layer after a PLI or FIR.
func (p *publisher) noteKeyframeRequests(pkts []rtcp.Packet) {
	for _, pkt := range pkts {
		switch pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			p.keyWanted.Store(true)
		}
	}
}

// onConnected returns a channel that receives pc's first settled state: connected, or
// failed or closed, so a session whose ICE or DTLS fails is known at once rather than when
// its deadline passes.
func onConnected(pc *webrtc.PeerConnection) <-chan webrtc.PeerConnectionState {
	ch := make(chan webrtc.PeerConnectionState, 1)
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected, webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			once.Do(func() { ch <- s })
		}
	})
	return ch
}
