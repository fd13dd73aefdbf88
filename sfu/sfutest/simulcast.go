package sfutest

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// SimulcastPublisher is a pion host sending H.264 video in three simulcast layers (rids q, h,
// f), as a browser does with sendEncodings. Each layer's frames say which layer they are.
type SimulcastPublisher struct {
	PC *webrtc.PeerConnection
	// DC is the data channel WithHostChannel opened; its messages arrive on Messages.
	DC       *webrtc.DataChannel
	Messages chan []byte

	layers  [3]*webrtc.TrackLocalStaticRTP
	packers [3]rtp.Packetizer
	// pion writes no mid/rid header extensions itself: the sender adds them, as a browser
	// does, so the server can tell the layers apart.
	midID, ridID uint8
	mid          string
	// Stopped layers send nothing, as an encoder that drops a layer under load.
	stopped   [3]atomic.Bool
	keyWanted atomic.Bool
	keyNext   [3]atomic.Bool // a resumed layer starts with a keyframe, as an encoder's does
	sizes     [3]int         // frame size per layer
}

// SimulcastOption changes a SimulcastPublisher.
type SimulcastOption func(*simulcastOptions)

type simulcastOptions struct {
	net     transport.Net
	sizes   [3]int
	dcLabel string
}

// WithHostChannel opens a reliable, ordered data channel with label in the host's offer
// (the interaction channel, as the SDK's Publisher does); its messages arrive on Messages.
func WithHostChannel(label string) SimulcastOption {
	return func(o *simulcastOptions) { o.dcLabel = label }
}

// PublishOn puts the publisher on a virtual network (pion transport/vnet).
func PublishOn(n transport.Net) SimulcastOption { return func(o *simulcastOptions) { o.net = n } }

// WithLayerSizes sets each layer's frame size in bytes (q, h, f); at 30 fps, 1,000 bytes a
// frame is 240 kbit/s. The default is FrameSize for f, a quarter of it for h, a sixteenth for q.
func WithLayerSizes(q, h, f int) SimulcastOption {
	return func(o *simulcastOptions) { o.sizes = [3]int{q, h, f} }
}

// NewSimulcastPublisher connects through signal and waits until media can flow.
func NewSimulcastPublisher(ctx context.Context, signal Signal, opts ...SimulcastOption) (*SimulcastPublisher, error) {
	o := simulcastOptions{sizes: [3]int{layerSize(0), layerSize(1), layerSize(2)}}
	for _, opt := range opts {
		opt(&o)
	}
	pc, err := newPeerConnection(peerOptions{net: o.net})
	if err != nil {
		return nil, err
	}
	p := &SimulcastPublisher{PC: pc, sizes: o.sizes, Messages: make(chan []byte, 256)}
	if o.dcLabel != "" {
		if p.DC, err = pc.CreateDataChannel(o.dcLabel, nil); err != nil {
			_ = pc.Close()
			return nil, err
		}
		p.DC.OnMessage(func(m webrtc.DataChannelMessage) {
			select {
			case p.Messages <- m.Data:
			default: // a test that stops reading does not block pion
			}
		})
	}
	codec := webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}
	for i, rid := range []string{"q", "h", "f"} {
		if p.layers[i], err = webrtc.NewTrackLocalStaticRTP(codec, "video", "sfutest", webrtc.WithRTPStreamID(rid)); err != nil {
			_ = pc.Close()
			return nil, err
		}
		p.packers[i] = rtp.NewPacketizer(1200, 0, 0, &codecs.H264Payloader{}, rtp.NewRandomSequencer(), 90000)
	}
	sender, err := pc.AddTrack(p.layers[0])
	if err == nil {
		for _, t := range p.layers[1:] {
			if err = sender.AddEncoding(t); err != nil {
				break
			}
		}
	}
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	for _, rid := range []string{"q", "h", "f"} {
		go p.readRTCP(sender, rid)
	}
	for _, ext := range sender.GetParameters().HeaderExtensions {
		switch ext.URI {
		case sdp.SDESMidURI:
			p.midID = uint8(ext.ID)
		case sdp.SDESRTPStreamIDURI:
			p.ridID = uint8(ext.ID)
		}
	}
	if err := connect(ctx, pc, signal); err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("simulcast publisher: %w", err)
	}
	for _, tr := range pc.GetTransceivers() {
		if tr.Sender() == sender {
			p.mid = tr.Mid()
		}
	}
	if p.midID == 0 || p.ridID == 0 || p.mid == "" {
		_ = pc.Close()
		return nil, fmt.Errorf("simulcast publisher: mid/rid header extensions not negotiated")
	}
	return p, nil
}

// readRTCP reads one layer's feedback: pion keeps a separate RTCP stream per encoding.
func (p *SimulcastPublisher) readRTCP(s *webrtc.RTPSender, rid string) {
	for {
		pkts, _, err := s.ReadSimulcastRTCP(rid)
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
				p.keyWanted.Store(true)
			}
		}
	}
}

// StopLayer stops sending a layer (0 q, 1 h, 2 f).
func (p *SimulcastPublisher) StopLayer(l int) { p.stopped[l].Store(true) }

// ResumeLayer sends a stopped layer again, from a keyframe, as a browser does when an
// encoding is made active again.
func (p *SimulcastPublisher) ResumeLayer(l int) {
	if p.stopped[l].Swap(false) {
		p.keyNext[l].Store(true)
	}
}

// Obey does what the SDK's Publisher does with a dynacast message naming the layers
// some viewer wants: sends those and always the lowest, stops the rest. It returns what
// is sent then.
func (p *SimulcastPublisher) Obey(wanted []string) [3]bool {
	for l, name := range [3]string{"q", "h", "f"} {
		if l == 0 || slices.Contains(wanted, name) {
			p.ResumeLayer(l)
		} else {
			p.StopLayer(l)
		}
	}
	return p.Sending()
}

// Sending reports which layers are being sent.
func (p *SimulcastPublisher) Sending() (on [3]bool) {
	for l := range on {
		on[l] = !p.stopped[l].Load()
	}
	return on
}

// SendFrames sends count frames on every running layer at fps, a keyframe on all layers
// first, every keyEvery frames and after a PLI.
func (p *SimulcastPublisher) SendFrames(ctx context.Context, first, count uint32, keyEvery, fps int) error {
	return pace(ctx, count, fps, func(i uint32) error {
		key := p.keyWanted.Swap(false) || i == 0 || int(i)%keyEvery == 0
		for l, t := range p.layers {
			if p.stopped[l].Load() {
				continue
			}
			key := p.keyNext[l].Swap(false) || key
			for _, pkt := range p.packers[l].Packetize(SizedLayerFrame(first+i, key, byte(l), p.sizes[l]), 90000/uint32(fps)) {
				_ = pkt.Header.SetExtension(p.midID, []byte(p.mid))
				_ = pkt.Header.SetExtension(p.ridID, []byte(t.RID()))
				if err := t.WriteRTP(pkt); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Close ends the session.
func (p *SimulcastPublisher) Close() error { return p.PC.Close() }
