package signaling

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/thumbnail"
	"github.com/glintlive/glint/signaling/auth"
)

// session is what a WHIP or WHEP resource controls.
type session interface {
	AddICECandidate(c webrtc.ICECandidateInit) error
	Close()
	OnClose(func())
	OnDataChannel(func(*webrtc.DataChannel))
	Go(func()) bool
	Stopping() <-chan struct{}
}

// Server serves WHIP and WHEP.
type Server struct {
	cfg      Config
	sfu      *sfu.SFU
	verifier *auth.Verifier
	log      *zap.Logger
	limiter  *keyLimiter
	mux      *http.ServeMux

	hub *datachannel.Hub // the interaction layer, nil until EnableInteraction

	metadata metadataStore    // rooms' titles and categories, for the directory
	thumbs   *thumbnail.Maker // nil until SetThumbnails
	// refusals logs refused logins, refused sessions and rate-limit hits: sampled, since
	// whoever causes them chooses how many.
	refusals *zap.Logger
	webhook  atomic.Pointer[RoomWebhook]

	// fallback names a room's LL-HLS playlist for viewers WebRTC cannot take (nil: none).
	fallback func(room string) string
	// hlsPlayers counts a room's LL-HLS players on this node (sfu/llhls' Players; nil:
	// none).
	hlsPlayers func(room string) int
	// relay asks for a room hosted on another node of a cluster (ingest/relay's Want;
	// nil: one node); true when a relay runs or starts.
	relay func(room string) bool
	// isNode says whether a bus node id is a live node of the cluster: a relay's token
	// names one (SetRelayNodes).
	isNode func(ctx context.Context, node string) bool
	// rtmp is RTMP ingest's hosts, for the room API (SetRTMP; nil: none).
	rtmp RTMPHosts
	// health adds lines to /healthz (nil: none).
	health func() string
	// nodes lists the cluster's nodes for GET /nodes (nodes.go; nil: a node alone).
	nodes func(ctx context.Context) ([]string, error)
	// cluster is a room across the cluster for GET /rooms/{room} (nil: a node alone).
	cluster func(ctx context.Context, room string) any

	mu        sync.Mutex
	resources map[string]*resource
	reserved  int // sessions being created, counted against MaxSessions with resources

	// Anonymous viewers waiting for their room to open (roomwait.go).
	waiting   *waitPlaces
	draining  chan struct{} // closed by Drain: waits end
	drainOnce sync.Once
	relayAsks *keyLimiter    // rooms waited for, asked about on a cluster: once a relayRecheck
	asks      sync.WaitGroup // askWhileWaiting's goroutines
}

// New builds the HTTP surface over an SFU.
func New(cfg Config, s *sfu.SFU, v *auth.Verifier, log *zap.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	srv := &Server{
		cfg: cfg, sfu: s, verifier: v, log: log.Named("signaling"),
		refusals:  refusalLogger(log.Named("signaling")),
		limiter:   newKeyLimiter(cfg.RatePerSecond, cfg.RateBurst),
		mux:       http.NewServeMux(),
		resources: map[string]*resource{},
		waiting:   newWaitPlaces(cfg.MaxAnonymousWaiting, cfg.MaxAnonymousWaitingPerAddress),
		draining:  make(chan struct{}),
		relayAsks: newKeyLimiter(1/relayRecheck.Seconds(), 1),
	}
	for _, kind := range []string{"whip", "whep"} {
		srv.mux.HandleFunc("POST /"+kind+"/{room}", srv.limited(srv.create(kind)))
		srv.mux.HandleFunc("OPTIONS /"+kind+"/{room}", srv.options)
		// Not limited per address: see the limits in resource.go.
		srv.mux.HandleFunc("PATCH /"+kind+"/{room}/{id}", srv.patch)
		srv.mux.HandleFunc("DELETE /"+kind+"/{room}/{id}", srv.delete)
		srv.mux.HandleFunc("OPTIONS /"+kind+"/{room}/{id}", srv.options)
	}
	srv.mux.HandleFunc("PUT /whep/{room}/{id}/layers", srv.putLayers) // a relay node's (layers.go)
	srv.mux.HandleFunc("GET /healthz", srv.healthz)
	srv.mux.HandleFunc("GET /nodes", srv.listNodes) // not rate-limited: every connect asks, and the answer is shared for a second
	srv.mux.HandleFunc("OPTIONS /rooms", srv.preflight)
	srv.mux.HandleFunc("OPTIONS /rooms/", srv.preflight)
	srv.mux.HandleFunc("GET /rooms", srv.limited(srv.listRooms))
	srv.mux.HandleFunc("GET /rooms/{room}", srv.limited(srv.getRoom))
	srv.mux.HandleFunc("DELETE /rooms/{room}", srv.limited(srv.endRoom))
	srv.mux.HandleFunc("PUT /rooms/{room}/metadata", srv.limited(srv.putMetadata))
	srv.mux.HandleFunc("POST /twirp/livekit.RoomService/", srv.limited(srv.twirpHandler())) // LiveKit's RoomService (twirp.go)
	srv.mux.HandleFunc("GET /directory", srv.limited(srv.directory))
	srv.mux.HandleFunc("GET /directory/categories", srv.limited(srv.categories))
	srv.mux.HandleFunc("GET /rooms/{room}/participants", srv.limited(srv.listParticipants))
	srv.mux.HandleFunc("DELETE /rooms/{room}/participants/{identity}", srv.limited(srv.removeParticipant))
	return srv, nil
}

// Handler is the server's HTTP handler, with CORS applied.
func (s *Server) Handler() http.Handler { return s.cors(s.mux) }

// Sessions is the number of live WHIP+WHEP resources.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.resources)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
	if s.health != nil {
		_, _ = io.WriteString(w, s.health())
	}
}

// SetHealth adds lines to /healthz's body after "ok" (a cluster node's membership). f
// must be cheap: load balancers poll it often.
func (s *Server) SetHealth(f func() string) { s.health = f }

// limited applies the per-IP rate limit.
func (s *Server) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ip := clientIP(r, s.cfg.TrustProxy); !s.limiter.allow(ip, time.Now()) {
			s.refusals.Info("rate limit hit", zap.String("client", ip), zap.String("method", r.Method), zap.String("path", r.URL.Path))
			writeError(w, errRateLimited)
			return
		}
		h(w, r)
	}
}

// create handles POST /whip/{room} and POST /whep/{room}: authenticate, read the offer,
// start the session and answer 201 with the resource's Location.
func (s *Server) create(kind string) http.HandlerFunc {
	perm, role := auth.PermPublish, sfu.RolePublisher
	if kind == "whep" {
		perm, role = auth.PermSubscribe, sfu.RoleViewer
	}
	return func(w http.ResponseWriter, r *http.Request) {
		room := r.PathValue("room")
		claims, err := s.verifier.Authorize(r, room, role == sfu.RoleViewer && s.cfg.AllowAnonymousViewing, perm)
		if err != nil {
			s.refusals.Info("login refused", zap.String("kind", kind), zap.String("room", room),
				zap.String("client", clientIP(r, s.cfg.TrustProxy)), zap.Int("status", statusOf(err)), zap.Error(err))
			writeError(w, err)
			return
		}
		offer, layer, err := s.readOffer(w, r)
		if err != nil {
			writeError(w, err)
			return
		}
		// Anonymous viewers may watch a room but not create one: they wait for it to open
		// (roomwait.go), before taking a place in MaxSessions or any WebRTC state. The join
		// checks again, atomically, that the room exists.
		// A room hosted on another node of a cluster is relayed here (never for a relay's
		// own request: relays do not feed relays). A bad room name or offer starts nothing.
		relaying := false
		if kind == "whep" && s.relay != nil && !strings.HasPrefix(identity(claims), RelayIdentityPrefix) && checkBeforeWait(room, offer) == nil {
			relaying = s.relay(room)
		}
		if claims == nil {
			if err := s.awaitRoom(r, room, offer, relaying); err != nil {
				writeError(w, err)
				return
			}
		}
		if !s.reserve() {
			s.linkFallback(w, kind, room, errTooManySession)
			writeError(w, errTooManySession)
			return
		}
		defer s.unreserve()
		id := newID()
		log := s.log.With(zap.String("room", room), zap.String("session", id), zap.String("kind", kind), zap.String("identity", identity(claims)))
		opts := sfu.SubscribeOptions{MaxLayer: layer, ExistingRoomOnly: claims == nil,
			Session: sfu.SessionOptions{Client: clientIP(r, s.cfg.TrustProxy)},
			Layered: s.fromRelay(r.Context(), claims)}
		sess, answer, err := s.start(role, room, offer, opts, log)
		if err != nil {
			if statusOf(err) == http.StatusInternalServerError {
				log.Error("session not created", zap.Error(err))
			} else {
				s.refusals.Info("session refused", zap.String("room", room), zap.String("kind", kind),
					zap.String("identity", identity(claims)), zap.Int("status", statusOf(err)), zap.Error(err))
			}
			s.linkFallback(w, kind, room, err)
			writeError(w, err)
			return
		}
		res := s.register(id, kind, room, offer, claims, sess)
		s.interactOver(sess, room, claims, log)
		log.Debug("session created") // one INFO line per session, when it ends (register)
		w.Header().Set("Content-Type", "application/sdp")
		w.Header().Set("Location", res.path)
		w.Header().Set("ETag", res.etag)
		w.Header().Set("Accept-Patch", "application/trickle-ice-sdpfrag")
		s.linkICEServers(w)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, answer)
	}
}

// readOffer reads a WHEP or WHIP request's offer (content type, size, candidates) and
// its ?layer= cap.
func (s *Server) readOffer(w http.ResponseWriter, r *http.Request) (string, int, error) {
	offer, err := s.readBody(w, r, "application/sdp")
	if err != nil {
		return "", 0, err
	}
	if offer, err = screenOffer(offer); err != nil {
		return "", 0, errors.Join(errBadRequest, err)
	}
	layer, err := sfu.ParseLayer(r.URL.Query().Get("layer"))
	if err != nil {
		return "", 0, errors.Join(errBadRequest, err)
	}
	return offer, layer, nil
}

// RelayIdentityPrefix starts the identity of the token a node relays a room with
// (ingest/relay): such a request never starts a relay itself.
const RelayIdentityPrefix = "relay:"

// SetRelayNodes lets a WHEP session be a relay node's, which receives each simulcast layer
// apart (sfu.SubscribeOptions.Layered): one whose token's identity is
// RelayIdentityPrefix and a node isNode names. Without it no session is.
func (s *Server) SetRelayNodes(isNode func(ctx context.Context, node string) bool) { s.isNode = isNode }

// fromRelay reports whether a request's token is a relay node's: its identity names a live
// node of the cluster after RelayIdentityPrefix. A platform that lets its users choose
// identities like "relay:..." does not give them the relay's every-layer session so.
func (s *Server) fromRelay(ctx context.Context, claims *auth.Claims) bool {
	node, ok := strings.CutPrefix(identity(claims), RelayIdentityPrefix)
	return claims != nil && ok && s.isNode != nil && s.isNode(ctx, node)
}

// SetRelay makes a WHEP request for a room this node does not host ask want(room) to
// relay it from the node that does (ingest/relay); an anonymous viewer then waits for the
// relay (relayJoinWait) as if it had sent Prefer: wait.
func (s *Server) SetRelay(want func(room string) bool) { s.relay = want }

// SetHLSPlayers makes room views count each room's LL-HLS players with players.
func (s *Server) SetHLSPlayers(players func(room string) int) { s.hlsPlayers = players }

// SetFallback makes WHEP refusals for capacity (503) carry a Link to the room's LL-HLS
// playlist, path(room), so a player can fall back at once instead of retrying.
func (s *Server) SetFallback(path func(room string) string) { s.fallback = path }

func (s *Server) linkFallback(w http.ResponseWriter, kind, room string, err error) {
	if kind != "whep" || s.fallback == nil || statusOf(err) != http.StatusServiceUnavailable {
		return
	}
	w.Header().Add("Link", "<"+s.fallback(room)+`>; rel="alternate"; type="application/vnd.apple.mpegurl"`)
}

// reserve counts a session being created against MaxSessions, atomically with the check.
func (s *Server) reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.resources)+s.reserved >= s.cfg.MaxSessions {
		return false
	}
	s.reserved++
	return true
}

func (s *Server) unreserve() {
	s.mu.Lock()
	s.reserved--
	s.mu.Unlock()
}

// start creates the WebRTC session behind a new resource.
func (s *Server) start(role sfu.Role, room, offer string, opts sfu.SubscribeOptions, log *zap.Logger) (session, string, error) {
	if role == sfu.RolePublisher {
		ws, answer, err := whip.PublishWith(s.sfu, room, offer, opts.Session, log)
		if err != nil {
			return nil, "", err
		}
		return ws, answer, nil
	}
	sub, answer, err := s.sfu.Subscribe(room, offer, opts, log)
	if err != nil {
		return nil, "", err
	}
	return sub, answer, nil
}

// readBody enforces the content type and size limit and returns the body.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, contentType string) (string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.EqualFold(mt, contentType) {
		return "", errors.Join(errContentType, errors.New("expected Content-Type: "+contentType))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxSDPBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", errors.Join(errTooLarge, errors.New("limit is "+strconv.FormatInt(s.cfg.MaxSDPBytes, 10)+" bytes"))
		}
		return "", errors.Join(errBadRequest, fmt.Errorf("reading the body: %w", err))
	}
	return string(body), nil
}

func (s *Server) linkICEServers(w http.ResponseWriter) {
	for _, u := range s.cfg.ICEServers {
		w.Header().Add("Link", "<"+u+`>; rel="ice-server"`)
	}
}

// Close ends every session this server created, and every wait for a room (Drain).
func (s *Server) Close(ctx context.Context) {
	s.Drain()
	s.mu.Lock()
	var all []*resource
	for _, r := range s.resources {
		all = append(all, r)
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		for _, r := range all {
			r.sess.Close()
		}
		s.asks.Wait() // a question to the cluster under way (roomwait.go): a directory read
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func identity(c *auth.Claims) string {
	if c == nil {
		return "anonymous"
	}
	return c.Identity
}

// refusalLogger samples log: at most 5 lines a second of each message, so a client that
// floods with bad tokens or requests shows in the log without writing it.
func refusalLogger(log *zap.Logger) *zap.Logger {
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, 5, 0)
	}))
}
