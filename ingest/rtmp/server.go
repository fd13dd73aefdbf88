package rtmp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/signaling/auth"
)

// Options are the server's collaborators.
type Options struct {
	SFU      *sfu.SFU
	Verifier *auth.Verifier
	// Ladder starts a transcoder per publish.
	Ladder StartLadder
	// Unavailable, when set, is why no transcoder can run (ffmpeg missing): the server
	// says so once at start and refuses every publish with it, and nothing else breaks.
	Unavailable error
	// OnHost, when set, is told when a host's stream goes on the stage (joined) and when
	// it ends (the room webhooks' participant_joined and participant_left). It must not
	// block.
	OnHost func(joined bool, h Host)
}

// Server accepts RTMP (and RTMPS) publishers.
type Server struct {
	cfg       Config
	opts      Options
	log       *zap.Logger
	plain     net.Listener // nil when only RTMPS is served
	secure    net.Listener // nil without a certificate
	listeners []net.Listener
	slots     chan struct{} // one per open connection: the MaxConnections cap
	preAuth   *preAuthSet   // connections not yet authorised: MaxUnauthenticated(PerAddress)

	ctx    context.Context // ends on Close: ladders being started give up
	cancel context.CancelFunc

	hosts hostSet // publishing now (hosts.go)

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	refusedLog *rateLimited // refusals before a stream key was accepted
	acceptLog  *rateLimited
}

// New binds the configured listeners; Start serves them.
func New(cfg Config, opts Options, log *zap.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.SFU == nil || opts.Verifier == nil {
		return nil, errors.New("rtmp: an SFU and a token verifier are required")
	}
	if opts.Ladder == nil && opts.Unavailable == nil {
		opts.Unavailable = errors.New("no transcoder configured")
	}
	s := &Server{cfg: cfg, opts: opts, log: log, slots: make(chan struct{}, cfg.MaxConnections),
		preAuth: newPreAuthSet(cfg.MaxUnauthenticated, cfg.MaxUnauthenticatedPerAddress),
		conns:   map[net.Conn]struct{}{}, refusedLog: newRateLimited(time.Second),
		acceptLog: newRateLimited(time.Second)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.Addr != "" {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("rtmp: listen on %s: %w", cfg.Addr, err)
		}
		s.plain = ln
		s.listeners = append(s.listeners, ln)
	}
	if cfg.TLS() {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("rtmp: RTMPS certificate: %w", err)
		}
		ln, err := net.Listen("tcp", cfg.RTMPSAddr)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("rtmp: listen on %s: %w", cfg.RTMPSAddr, err)
		}
		tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.secure = tls.NewListener(ln, tc)
		s.listeners = append(s.listeners, s.secure)
	}
	return s, nil
}

// Addr is the plain RTMP listener's address (nil when only RTMPS is served).
func (s *Server) Addr() net.Addr { return addrOf(s.plain) }

// TLSAddr is the RTMPS listener's address (nil without a certificate).
func (s *Server) TLSAddr() net.Addr { return addrOf(s.secure) }

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// Start accepts connections in the background.
func (s *Server) Start() {
	for _, ln := range s.listeners {
		s.log.Info("RTMP ingest listening", zap.String("addr", ln.Addr().String()),
			zap.String("app", s.cfg.App), zap.Bool("tls", ln == s.secure))
	}
	if s.opts.Unavailable != nil {
		s.log.Warn("RTMP ingest cannot transcode: every RTMP publish will be refused until ffmpeg is installed (WHIP and playback are unaffected)",
			zap.String("reason", s.opts.Unavailable.Error()))
	}
	for _, ln := range s.listeners {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.accept(ln)
		}()
	}
}

func (s *Server) accept(ln net.Listener) {
	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors (EMFILE) or another transient failure: back off
			// as net/http does, and say so, rather than stop taking publishes silently.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			if ok, _ := s.acceptLog.allow(); ok {
				s.log.Warn("RTMP accept failed; retrying", zap.Error(err), zap.Duration("backoff", backoff))
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		connectionsTotal.Inc()
		log := s.log.With(zap.Stringer("remote", raw.RemoteAddr()))
		select {
		case s.slots <- struct{}{}:
		default:
			s.refuse(fmt.Errorf("%w (limit %d)", ErrTooManyConnections, s.cfg.MaxConnections), log)
			_ = raw.Close()
			continue
		}
		nc := newBudgetConn(raw, preAuthBytes)
		victim, err := s.preAuth.add(nc)
		if err != nil {
			s.refuse(err, log)
			<-s.slots
			_ = raw.Close()
			continue
		}
		if victim != nil {
			victim.evict() // its handler counts and logs it
		}
		if !s.track(raw) {
			s.preAuth.remove(nc)
			<-s.slots
			_ = raw.Close()
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.slots }()
			defer s.untrack(raw)
			defer s.preAuth.remove(nc)
			s.handle(nc)
		}()
	}
}

func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[nc] = struct{}{}
	connectionsGauge.Inc()
	return true
}

func (s *Server) untrack(nc net.Conn) {
	_ = nc.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, nc)
	connectionsGauge.Dec()
}

// refuse counts and logs a refusal. Refusals before a stream key was accepted can be
// floods (port scanners, a wrong key in a retry loop): their log lines are rate-limited,
// but at Warn, so an operator sees encoders turned away at a limit.
func (s *Server) refuse(err error, log *zap.Logger) {
	why := reason(err)
	refusalsTotal.WithLabelValues(why).Inc()
	notLogged := 0
	if preAuth(why) {
		ok, n := s.refusedLog.allow()
		if !ok {
			return
		}
		notLogged = n
	}
	log.Warn("RTMP connection refused", zap.String("reason", why), zap.Error(err), zap.Int("refusals_not_logged", notLogged))
}

// preAuth reports whether a refusal reason is decided before the stream key is accepted,
// where anyone on the network can cause it.
func preAuth(why string) bool {
	switch why {
	case "handshake", "connection_limit", "unauthenticated_limit", "evicted", "bad_token", "forbidden", "wrong_app", "play":
		return true
	}
	return false
}

// Close stops accepting, ends every connection (and with it its host session and
// transcoder) and waits for them. Safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	conns := make([]net.Conn, 0, len(s.conns))
	for nc := range s.conns {
		conns = append(conns, nc)
	}
	s.mu.Unlock()
	s.cancel()
	s.closeListeners()
	for _, nc := range conns {
		_ = nc.Close()
	}
	s.wg.Wait()
	return nil
}

func (s *Server) closeListeners() {
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
}

// rateLimited lets one event through per interval and says how many it held back since.
type rateLimited struct {
	mu         sync.Mutex
	interval   time.Duration
	last       time.Time
	suppressed int
}

func newRateLimited(d time.Duration) *rateLimited { return &rateLimited{interval: d} }

// allow reports whether to log now and, if so, how many events were not logged before.
func (r *rateLimited) allow() (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.last) < r.interval {
		r.suppressed++
		return false, 0
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	return true, n
}

// openConns is how many connections are open now.
func (s *Server) openConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
