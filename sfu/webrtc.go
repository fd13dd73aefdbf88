package sfu

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// engine holds what every session shares: the UDP sockets all ICE traffic goes through
// (one per local address, all on one port) and the two pion APIs, one for publishers and
// one for viewers, whose interceptors differ.
type engine struct {
	mux    udpMux
	conns  []*batchConn
	pool   *fanPool // nil on one core
	lanes  int      // each conn's send lanes: one per fan-out worker
	pacing bool     // Config.Pacing
	pub    *webrtc.API
	sub    *webrtc.API
	// bwes holds each viewer PeerConnection's bandwidth estimation, by pc.ID(), from when
	// pion builds its interceptors until the Subscriber takes it.
	bwes sync.Map
}

// udpMux is what both of pion's muxes offer.
type udpMux interface {
	ice.UDPMux
	GetListenAddresses() []net.Addr
}

func newEngine(cfg *Config, log *zap.Logger) (*engine, error) {
	loggers := newPionLoggerFactory(log)
	lanes := cfg.fanoutWorkers()
	mux, conns, err := listenUDPMux(cfg, lanes, loggers)
	if err != nil {
		return nil, err
	}
	se := newSettingEngine(cfg, mux, loggers)
	e := &engine{mux: mux, conns: conns, lanes: lanes, pacing: cfg.Pacing}
	if e.pub, err = newAPI(se, registerPublisherInterceptors); err == nil {
		e.sub, err = newAPI(se, e.registerViewerInterceptors)
	}
	if err != nil {
		_ = mux.Close()
		return nil, err
	}
	e.pool = newFanPool(lanes, cfg.FanoutParallelMin)
	return e, nil
}

// takeBWE returns (once) the bandwidth estimation of a viewer PeerConnection.
func (e *engine) takeBWE(pcID string) *viewerBWE {
	v, ok := e.bwes.LoadAndDelete(pcID)
	if !ok {
		return nil
	}
	return v.(*viewerBWE)
}

// listenUDPMux opens the media port. ICE must know which local address a packet reached,
// so on the wildcard address there is one socket per interface address, all on one port.
// Every socket is a batchConn, so the fan-out sends a viewer's share of a frame at once.
func listenUDPMux(cfg *Config, lanes int, loggers logging.LoggerFactory) (udpMux, []*batchConn, error) {
	addr, err := net.ResolveUDPAddr("udp4", cfg.UDPAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("sfu: udp_addr: %w", err)
	}
	ips := []net.IP{addr.IP}
	if addr.IP == nil || addr.IP.IsUnspecified() {
		if ips, err = localIPv4s(cfg.IncludeLoopback); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Net != nil {
		c, err := cfg.Net.ListenUDP("udp4", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("sfu: listen on virtual UDP %s: %w", addr, err)
		}
		return ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: c, Net: cfg.Net, Logger: loggers.NewLogger("udpmux")}), nil, nil
	}
	var muxes []ice.UDPMux
	var conns []*batchConn
	for _, ip := range ips {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: addr.Port})
		if err != nil {
			for _, m := range muxes {
				_ = m.Close()
			}
			return nil, nil, fmt.Errorf("sfu: listen on UDP %s:%d: %w", ip, addr.Port, err)
		}
		// Errors only mean the kernel keeps its default; the cap is net.core.rmem_max/wmem_max.
		_ = c.SetReadBuffer(cfg.UDPBufferBytes)
		_ = c.SetWriteBuffer(cfg.UDPBufferBytes)
		bc := newBatchConn(c, lanes)
		conns = append(conns, bc)
		muxes = append(muxes, ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: bc, Logger: loggers.NewLogger("udpmux")}))
	}
	if len(muxes) == 1 {
		return muxes[0].(*ice.UDPMuxDefault), conns, nil
	}
	return ice.NewMultiUDPMuxDefault(muxes...), conns, nil
}

// localIPv4s lists the IPv4 addresses of the interfaces that are up.
func localIPv4s(includeLoopback bool) ([]net.IP, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("sfu: list interfaces: %w", err)
	}
	var ips []net.IP
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || (ifc.Flags&net.FlagLoopback != 0 && !includeLoopback) {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				ips = append(ips, n.IP.To4())
			}
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("sfu: no IPv4 interface address to listen on")
	}
	return ips, nil
}

// localAddr is the first address ICE listens on (tests use it to find the port).
func (e *engine) localAddr() *net.UDPAddr {
	addrs := e.mux.GetListenAddresses()
	if len(addrs) == 0 {
		return nil
	}
	return addrs[0].(*net.UDPAddr)
}

func (e *engine) close() error {
	e.pool.close()
	return e.mux.Close()
}

// newTrack makes a stage Track fanned out through the engine's sockets and workers.
func (e *engine) newTrack(kind webrtc.RTPCodecType) *Track {
	return newTrack(kind, e, e.pool, e.lanes)
}

// setPace paces the viewer at addr to its estimate bps (0: unpaced), on every media socket:
// its datagrams leave by whichever one its ICE pair chose.
func (e *engine) setPace(addr netip.AddrPort, bps int) {
	if !e.pacing {
		return
	}
	for _, c := range e.conns {
		c.setPace(addr, bps)
	}
}

// forgetPace drops the viewer at addr from the pacers.
func (e *engine) forgetPace(addr netip.AddrPort) {
	for _, c := range e.conns {
		c.forgetPace(addr)
	}
}

// laneFor is the send lane of a viewer at addr (see laneOf).
func (e *engine) laneFor(addr netip.AddrPort) int { return laneOf(addr, e.lanes) }

// beginBatch and endBatch bracket viewers' shares of a fan-out on their lane: datagrams
// written in between are sent together when it ends.
func (e *engine) beginBatch(lane int) {
	for _, c := range e.conns {
		c.begin(lane)
	}
}

func (e *engine) endBatch(lane int) {
	for _, c := range e.conns {
		c.end(lane)
	}
}

func newSettingEngine(cfg *Config, mux ice.UDPMux, loggers logging.LoggerFactory) webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.LoggerFactory = loggers
	se.SetICEUDPMux(mux)
	if cfg.Net != nil {
		se.SetNet(cfg.Net)
	}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	if len(cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	// Browsers hide their host addresses behind mDNS names. The server never needs to
	// resolve them: the browser's connectivity checks reveal its address (peer-reflexive).
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(cfg.DisconnectTimeout/2, cfg.DisconnectTimeout, 2*time.Second)
	// AES-GCM first: cheaper per packet than AES-CM+HMAC and authenticated in one pass.
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	se.SetSRTPReplayProtectionWindow(SRTPReplayWindow)
	return se
}

// SRTPReplayWindow is how far behind the newest packet an SRTP packet is still accepted,
// in packets: browsers use 1,024 (libwebrtc's and Firefox's libsrtp policy); pion's
// default of 64 rejects a publisher's retransmission of a packet lost early in a keyframe
// of a few hundred packets, so the keyframe was never repaired. Clients that stand in for
// browsers (loadtest, test viewers) use it too.
const SRTPReplayWindow = 1024

func newAPI(se webrtc.SettingEngine, register func(*webrtc.MediaEngine, *interceptor.Registry) error) (*webrtc.API, error) {
	m, err := newMediaEngine()
	if err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := register(m, ir); err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)), nil
}

// registerPublisherInterceptors: toward a publisher the SFU is a receiver. It NACKs what it
// loses, sends receiver reports, and returns transport-wide congestion feedback so the
// publisher's own bandwidth estimator can ramp its encoder up.
func registerPublisherInterceptors(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return err
	}
	ir.Add(gen)
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return err
	}
	ir.Add(rr)
	// mid/rid/repaired-rid header extensions: how simulcast layers are told apart.
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return err
	}
	return webrtc.ConfigureTWCCSender(m, ir)
}

// registerViewerInterceptors: toward a viewer the SFU is a sender. Bandwidth estimation
// (transport-wide sequence numbers and GCC, see bweFactory) gives each viewer of a
// simulcast stream an estimate to choose its layer by. NACKs are answered from the
// Receiver's shared cache and sender reports are the publisher's, translated by each
// DownTrack: pion's responder and sender-report interceptors would duplicate both (and keep
// a packet copy per viewer), so they are not registered.
func (e *engine) registerViewerInterceptors(m *webrtc.MediaEngine, ir *interceptor.Registry) error {
	return registerBWE(e, m, ir, func() (cc.BandwidthEstimator, error) {
		// No pacer here: the allocator keeps each viewer's sending under its estimate by
		// choosing the layer, and the media socket spreads its bursts (pacer.go), after
		// encryption, where the fan-out never waits for it.
		est, err := gcc.NewSendSideBWE(
			gcc.SendSideBWEInitialBitrate(initialEstimate),
			gcc.SendSideBWEMinBitrate(minEstimate),
			gcc.SendSideBWEMaxBitrate(maxEstimate),
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
		if err != nil {
			return nil, err
		}
		return &probingEstimator{BandwidthEstimator: est}, nil
	})
}

// Bandwidth estimate bounds for viewers, bits per second. A new viewer starts as if on
// ordinary broadband (a 720p layer fits); on a poorer link the estimate falls within a
// second or two and the viewer drops a layer, which costs less than climbing from the
// bottom would.
const (
	initialEstimate = 2_000_000
	minEstimate     = 50_000
	maxEstimate     = 50_000_000
)
