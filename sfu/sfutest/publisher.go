package sfutest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/rtcp"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Signal carries an SDP offer to the server and returns its answer: directly into the SFU
// in library tests, over WHIP/WHEP HTTP in signaling tests.
type Signal func(ctx context.Context, offer string) (answer string, err error)

// Publisher is a pion host sending H.264 and Opus.
type Publisher struct {
	PC    *webrtc.PeerConnection
	video *webrtc.TrackLocalStaticSample
	audio *webrtc.TrackLocalStaticSample
	plis  atomic.Int64
	// keyWanted is set by a PLI: like a real encoder, the next frame is a keyframe.
	keyWanted atomic.Bool
	frameSize int
	sockets   *socketNet // WithVanish

	mu     sync.Mutex
	sentAt map[uint32]time.Time // when each video frame was handed to pion, by number
}

// PublisherOption changes a Publisher.
type PublisherOption func(*peerOptions)

// WithFrameSize sets the publisher's video frame size in bytes (at most 64 KiB; default
// FrameSize): large frames are what keyframes of real video are, hundreds of packets.
func WithFrameSize(size int) PublisherOption { return func(o *peerOptions) { o.frameSize = size } }

// WithSendLoss loses every nth outgoing video packet once, on its way to the network (after
// the NACK responder kept it, before SRTP), as a lossy uplink does: the server sees the loss
// and must ask for the packet again.
func WithSendLoss(n int) PublisherOption {
	return func(o *peerOptions) { o.extra = append(o.extra, &dropFactory{every: n, outgoing: true}) }
}

// WithClockOffset gives the publisher a wall clock off from this machine's by d, as a host
// whose clock is not in sync: its sender reports map its RTP timestamps to that clock.
func WithClockOffset(d time.Duration) PublisherOption {
	return func(o *peerOptions) { o.clockOffset = d }
}

// NewPublisher connects a publisher through signal and waits until media can flow.
func NewPublisher(ctx context.Context, signal Signal, opts ...PublisherOption) (*Publisher, error) {
	var o peerOptions
	for _, opt := range opts {
		opt(&o)
	}
	pc, err := newPeerConnection(o)
	if err != nil {
		return nil, err
	}
	p := &Publisher{PC: pc, frameSize: FrameSize, sockets: o.sockets, sentAt: map[uint32]time.Time{}}
	if o.frameSize > 0 {
		p.frameSize = o.frameSize
	}
	p.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	}, "video", "sfutest")
	if err == nil {
		p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
		}, "audio", "sfutest")
	}
	if err != nil {
		_ = pc.Close()
		return nil, err
	}
	for _, t := range []*webrtc.TrackLocalStaticSample{p.video, p.audio} {
		sender, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			_ = pc.Close()
			return nil, err
		}
		go p.readRTCP(sender.Sender())
	}
	if err := connect(ctx, pc, signal); err != nil {
		_ = pc.Close()
		return nil, fmt.Errorf("publisher: %w", err)
	}
	return p, nil
}

func (p *Publisher) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
				p.plis.Add(1)
				p.keyWanted.Store(true)
			}
		}
	}
}

// SentAt is when video frame n was sent (the zero time if it was not): on a loaded machine
// the publisher falls behind its frame rate, so a viewer's latency is measured from here.
func (p *Publisher) SentAt(n uint32) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sentAt[n]
}

// FramesSent is how many video frames SendFrames has sent.
func (p *Publisher) FramesSent() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sentAt)
}

// PLIs counts keyframe requests the publisher received.
func (p *Publisher) PLIs() int64 { return p.plis.Load() }

// SendFrames sends count video frames numbered from first at fps, a keyframe first, every
// keyEvery frames and after each PLI, with 20 ms Opus packets in between.
func (p *Publisher) SendFrames(ctx context.Context, first, count uint32, keyEvery, fps int) error {
	frameDur := time.Second / time.Duration(fps)
	audioDue := time.Duration(0)
	return pace(ctx, count, fps, func(i uint32) error {
		key := p.keyWanted.Swap(false) || i == 0 || int(i)%keyEvery == 0
		p.mu.Lock()
		p.sentAt[first+i] = time.Now()
		p.mu.Unlock()
		if err := p.video.WriteSample(media.Sample{Data: SizedLayerFrame(first+i, key, 2, p.frameSize), Duration: frameDur}); err != nil {
			return err
		}
		for audioDue += frameDur; audioDue >= 20*time.Millisecond; audioDue -= 20 * time.Millisecond {
			opus := []byte{0xfc, 0xff, 0xfe, byte(i)} // a TOC byte and filler: the SFU never decodes
			if err := p.audio.WriteSample(media.Sample{Data: opus, Duration: 20 * time.Millisecond}); err != nil {
				return err
			}
		}
		return nil
	})
}

// pace calls frame count times, once per frame interval at fps, until ctx ends.
func pace(ctx context.Context, count uint32, fps int, frame func(i uint32) error) error {
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	for i := uint32(0); i < count; i++ {
		if err := frame(i); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Close ends the publisher's session.
func (p *Publisher) Close() error { return p.PC.Close() }

// peerOptions shape a test peer: its network and what feedback it gives.
type peerOptions struct {
	net    transport.Net // a pion vnet; nil for loopback
	faults *FaultLink    // loopback through a lossy, jittery link
	noTWCC bool          // no transport-wide feedback: an older player that sends REMB
	// clockOffset moves the wall clock of the peer's sender reports.
	clockOffset time.Duration
	extra       []interceptor.Factory
	frameSize   int           // publisher video frames, bytes (0: FrameSize)
	nackEvery   time.Duration // the NACK generator's interval (0: pion's 100 ms)
	// sockets, when set, is the loopback network the peer's sockets are opened on, so
	// that the test can close them (WithVanish).
	sockets *socketNet
}

// browserReplayWindow is the SRTP replay window browsers use (libwebrtc's and Firefox's
// libsrtp policy: 1,024 packets; the SFU's sfu.SRTPReplayWindow). pion's default of 64
// drops a retransmission of a packet lost early in a large keyframe, which a browser takes.
const browserReplayWindow = 1024

// newPeerConnection makes a test peer.
func newPeerConnection(o peerOptions) (*webrtc.PeerConnection, error) {
	netw, extra := o.net, o.extra
	var se webrtc.SettingEngine
	if hasIncomingLoss(extra) {
		// Simulated loss happens after SRTP has seen the packet, so its replay window would
		// reject the retransmission that real loss (before SRTP) lets through.
		se.DisableSRTPReplayProtection(true)
	} else {
		se.SetSRTPReplayProtectionWindow(browserReplayWindow)
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if o.faults != nil {
		std, err := stdnet.NewNet()
		if err != nil {
			return nil, err
		}
		netw = faultNet{Net: std, link: o.faults}
		se.SetNet(netw)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled) // its socket is not the ICE agent's to close
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	} else if netw != nil {
		se.SetNet(netw)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled) // a virtual network has no multicast
	} else {
		if o.sockets != nil {
			if err := o.sockets.open(); err != nil {
				return nil, err
			}
			se.SetNet(o.sockets)
		}
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	// mid and rid header extensions: without them simulcast layers cannot be told apart.
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, err
	}
	// pion's defaults: NACK generator and responder, RTCP reports, TWCC, as a browser has.
	ir := &interceptor.Registry{}
	for _, f := range extra { // before the defaults: they see what these let through
		ir.Add(f)
	}
	var nackOpts []nack.GeneratorOption
	if o.nackEvery > 0 {
		nackOpts = append(nackOpts, nack.GeneratorInterval(o.nackEvery))
	}
	if o.noTWCC {
		if err := webrtc.ConfigureNackWithOptions(m, ir, nackOpts); err != nil {
			return nil, err
		}
		if err := webrtc.ConfigureRTCPReports(ir); err != nil {
			return nil, err
		}
	} else if err := webrtc.RegisterDefaultInterceptorsWithOptions(m, ir, webrtc.WithNackGeneratorOptions(nackOpts...),
		webrtc.WithReportSenderOptions(report.SenderNow(func() time.Time { return time.Now().Add(o.clockOffset) }))); err != nil {
		return nil, err
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir))
	return api.NewPeerConnection(webrtc.Configuration{})
}

// connect runs offer/answer through signal and waits for the connection.
func connect(ctx context.Context, pc *webrtc.PeerConnection, signal Signal) error {
	connected := make(chan struct{})
	failed := make(chan struct{})
	var onceOK, onceFail sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			onceOK.Do(func() { close(connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			onceFail.Do(func() { close(failed) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	answer, err := signal(ctx, pc.LocalDescription().SDP)
	if err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return err
	}
	select {
	case <-connected:
		return nil
	case <-failed:
		return fmt.Errorf("connection failed")
	case <-ctx.Done():
		return ctx.Err()
	}
}
