package sfu

import (
	"fmt"
	"net"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// engine holds what every session shares: one UDP socket for all ICE traffic and the two
// pion APIs, one for publishers and one for viewers, whose interceptors differ.
type engine struct {
	mux udpMux
	pub *webrtc.API
	sub *webrtc.API
}

// udpMux is what both of pion's muxes offer.
type udpMux interface {
	ice.UDPMux
	GetListenAddresses() []net.Addr
}

func newEngine(cfg *Config, log *zap.Logger) (*engine, error) {
	loggers := newPionLoggerFactory(log)
	mux, err := listenUDPMux(cfg, loggers)
	if err != nil {
		return nil, err
	}
	se := newSettingEngine(cfg, mux, loggers)
	pub, err := newAPI(se, registerPublisherInterceptors)
	if err == nil {
		var sub *webrtc.API
		if sub, err = newAPI(se, registerViewerInterceptors); err == nil {
			return &engine{mux: mux, pub: pub, sub: sub}, nil
		}
	}
	_ = mux.Close()
	return nil, err
}

// listenUDPMux opens the one UDP port. On a specific address that is one socket; on the
// wildcard address pion needs one socket per interface address (a wildcard socket cannot
// tell which local address a packet reached), all on the same port.
func listenUDPMux(cfg *Config, loggers logging.LoggerFactory) (udpMux, error) {
	addr, err := net.ResolveUDPAddr("udp4", cfg.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("sfu: udp_addr: %w", err)
	}
	if addr.IP == nil || addr.IP.IsUnspecified() {
		opts := []ice.UDPMuxFromPortOption{
			ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4),
			ice.UDPMuxFromPortWithReadBufferSize(cfg.UDPBufferBytes),
			ice.UDPMuxFromPortWithWriteBufferSize(cfg.UDPBufferBytes),
			ice.UDPMuxFromPortWithLogger(loggers.NewLogger("udpmux")),
		}
		if cfg.IncludeLoopback {
			opts = append(opts, ice.UDPMuxFromPortWithLoopback())
		}
		mux, err := ice.NewMultiUDPMuxFromPort(addr.Port, opts...)
		if err != nil {
			return nil, fmt.Errorf("sfu: listen on UDP %s: %w", cfg.UDPAddr, err)
		}
		return mux, nil
	}
	conn, err := net.ListenUDP("udp4", addr)
	if err != nil {
		return nil, fmt.Errorf("sfu: listen on UDP %s: %w", cfg.UDPAddr, err)
	}
	// Errors only mean the kernel keeps its default; the cap is net.core.rmem_max/wmem_max.
	_ = conn.SetReadBuffer(cfg.UDPBufferBytes)
	_ = conn.SetWriteBuffer(cfg.UDPBufferBytes)
	return ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn, Logger: loggers.NewLogger("udpmux")}), nil
}

// localAddr is the first address ICE listens on (tests use it to find the port).
func (e *engine) localAddr() *net.UDPAddr {
	addrs := e.mux.GetListenAddresses()
	if len(addrs) == 0 {
		return nil
	}
	return addrs[0].(*net.UDPAddr)
}

func (e *engine) close() error { return e.mux.Close() }

func newSettingEngine(cfg *Config, mux ice.UDPMux, loggers logging.LoggerFactory) webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.LoggerFactory = loggers
	se.SetICEUDPMux(mux)
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
	return se
}

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
	return webrtc.ConfigureTWCCSender(m, ir)
}

// registerViewerInterceptors: toward a viewer the SFU is a sender, but NACKs are answered
// from the Receiver's shared cache and sender reports are the publisher's, translated by
// each DownTrack. pion's responder and sender-report interceptors would duplicate both (and
// keep a packet copy per viewer), so none are registered here.
func registerViewerInterceptors(*webrtc.MediaEngine, *interceptor.Registry) error { return nil }
