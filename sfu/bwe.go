package sfu

import (
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// bweFactory builds, per viewer PeerConnection, the send-side bandwidth estimation: pion's
// transport-wide sequence numbers (twcc) feeding its Google congestion control (cc/gcc).
// It only runs while the viewer has something to choose between: estimation roughly doubles
// the server's CPU per packet (pion keeps a history entry per packet sent), so a viewer of a
// single-layer stream, or one whose player did not negotiate transport-cc (pion's GCC would
// refuse its packets), sends straight through.
type bweFactory struct {
	e    *engine
	twcc *twcc.HeaderExtensionInterceptorFactory
	cc   *cc.InterceptorFactory
	ests sync.Map // pc id -> cc.BandwidthEstimator, between cc's callback and NewInterceptor
}

// viewerBWE is what the allocator gets for one viewer.
type viewerBWE struct {
	est    cc.BandwidthEstimator
	probe  *prober     // nil when the estimator does not measure probes
	active atomic.Bool // packets go through estimation
}

func registerBWE(e *engine, m *webrtc.MediaEngine, ir *interceptor.Registry, newEstimator cc.BandwidthEstimatorFactory) error {
	// Video only: audio is never what a viewer's estimate chooses.
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, webrtc.RTPCodecTypeVideo); err != nil {
		return err
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, webrtc.RTPCodecTypeVideo)
	// REMB for players without transport-wide feedback: their own estimate, sent to us.
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBGoogREMB}, webrtc.RTPCodecTypeVideo)
	tw, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		return err
	}
	ccf, err := cc.NewInterceptor(newEstimator)
	if err != nil {
		return err
	}
	f := &bweFactory{e: e, twcc: tw, cc: ccf}
	// One callback for the factory's life (it has a single slot): estimators are handed
	// over by PeerConnection id, which is unique, so concurrent sessions cannot mix them.
	ccf.OnNewPeerConnection(func(id string, est cc.BandwidthEstimator) { f.ests.Store(id, est) })
	ir.Add(f)
	return nil
}

func (f *bweFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	ccI, err := f.cc.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	bwe := &viewerBWE{}
	if v, ok := f.ests.LoadAndDelete(id); ok {
		bwe.est = v.(cc.BandwidthEstimator)
		if pe, ok := bwe.est.(*probingEstimator); ok {
			bwe.probe = &pe.probe
		}
	}
	twI, err := f.twcc.NewInterceptor(id)
	if err != nil {
		_ = ccI.Close()
		return nil, err
	}
	f.e.bwes.Store(id, bwe)
	return &bweInterceptor{twcc: twI, cc: ccI, bwe: bwe}, nil
}

type bweInterceptor struct {
	interceptor.NoOp
	twcc, cc interceptor.Interceptor
	bwe      *viewerBWE
}

// BindRTCPReader lets GCC see the viewer's transport-wide feedback.
func (b *bweInterceptor) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return b.cc.BindRTCPReader(b.twcc.BindRTCPReader(r))
}

// BindLocalStream routes a stream through sequence-numbering and GCC (numbering outermost,
// so GCC sees stamped packets) while estimation is active, and straight through otherwise.
func (b *bweInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	stamped := false
	for _, e := range info.RTPHeaderExtensions {
		stamped = stamped || e.URI == sdp.TransportCCURI
	}
	if !stamped {
		return w
	}
	through := b.twcc.BindLocalStream(info, b.cc.BindLocalStream(info, w))
	active := &b.bwe.active
	// GCC tags every packet's attributes and makes a map when it gets none, which the
	// DownTrack's writes never carry: one map per stream, cleared and reused, saves two
	// allocations a packet. A stream's writes are serialised by its DownTrack's lock, and
	// nothing keeps the attributes past the write.
	attrs := interceptor.Attributes{}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, a interceptor.Attributes) (int, error) {
		if !active.Load() {
			return w.Write(h, p, a)
		}
		if a == nil {
			clear(attrs)
			a = attrs
		}
		return through.Write(h, p, a)
	})
}

func (b *bweInterceptor) UnbindLocalStream(info *interceptor.StreamInfo) {
	b.twcc.UnbindLocalStream(info)
	b.cc.UnbindLocalStream(info)
}

func (b *bweInterceptor) Close() error {
	err := b.cc.Close()
	if e := b.twcc.Close(); err == nil {
		err = e
	}
	return err
}
