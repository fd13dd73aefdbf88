package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/ingest/relay"
	"github.com/glintlive/glint/ingest/rtmp"
	"github.com/glintlive/glint/ingest/transcode"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/llhls"
	"github.com/glintlive/glint/sfu/thumbnail"
	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
	"github.com/glintlive/glint/webclient"
)

// app is one running server: the SFU, the interaction hub and its bus, the HTTP surface
// over them and the listener.
type app struct {
	cfg       Config
	log       *zap.Logger
	sfu       *sfu.SFU
	bus       *bus.NATS
	relays    *relay.Relays // nil on a node alone
	node      string        // the node's name in its cluster; "" alone
	hub       *datachannel.Hub
	gifts     *signaling.GiftWebhook // nil without gift_webhooks
	webhooks  *signaling.RoomWebhook // nil without webhooks
	thumbs    *thumbnail.Maker
	signaling *signaling.Server
	hls       *llhls.Origin
	rtmp      *rtmp.Server // nil when RTMP ingest is off
	http      *http.Server
	listener  net.Listener
	served    chan error
}

// newApp wires the packages together and binds the ports; it does not serve yet.
func newApp(cfg Config, log *zap.Logger) (*app, error) {
	return newAppContext(context.Background(), cfg, log)
}

// newAppContext is newApp that gives up when ctx ends: a node of a cluster may wait at
// start for the others (bus.cluster.join_timeout), and Ctrl-C must end that wait.
func newAppContext(ctx context.Context, cfg Config, log *zap.Logger) (*app, error) {
	node, err := cfg.busConfig().NodeName()
	if err != nil {
		return nil, err
	}
	if node != "" {
		log = log.With(zap.String("node", node)) // a cluster's logs say which node wrote them
	}
	verifier, err := auth.NewVerifierConfig(cfg.Auth, map[string]string{cfg.APIKey: cfg.APISecret})
	if err != nil {
		return nil, err
	}
	s, err := sfu.New(cfg.SFU, log)
	if err != nil {
		return nil, err
	}
	sig, err := signaling.New(cfg.Signaling, s, verifier, log)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	a := &app{cfg: cfg, log: log, node: node, sfu: s, signaling: sig, served: make(chan error, 1)}
	if len(cfg.Webhooks) > 0 {
		if a.webhooks, err = signaling.NewRoomWebhook(cfg.Webhooks, cfg.APIKey, cfg.APISecret, signaling.RoomWebhookOptions{}, log); err != nil {
			return a.abort(err)
		}
		sig.SetRoomWebhook(a.webhooks)
	}
	a.thumbs = thumbnail.New(s, cfg.HLS.FFmpeg, log)
	sig.SetThumbnails(a.thumbs)
	check := checkFFmpegOnce()
	if a.hls, err = newHLS(cfg, s, verifier, check, log); err != nil {
		return a.abort(err)
	}
	if cfg.HLS.Enabled {
		sig.SetFallback(llhls.PlaylistPath)
		sig.SetHLSPlayers(a.hls.Players)
	}
	if err := a.startInteraction(ctx); err != nil {
		return a.abort(err)
	}
	if a.rtmp, err = newRTMP(cfg.RTMP, s, verifier, check, a.rtmpHost, log); err != nil {
		return a.abort(err)
	}
	if a.rtmp != nil {
		sig.SetRTMP(a.rtmp)
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return a.abort(fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err))
	}
	a.listener = ln
	if err := a.startRelays(ctx); err != nil {
		return a.abort(err)
	}
	s.OnEvent(a.onSFUEvent) // once the webhooks and relays it feeds are set
	// An anonymous WHEP request may wait for its room to open (signaling.anonymous_wait)
	// before its session is set up: its answer must still fit in the write timeout.
	writeTimeout := 30*time.Second + cfg.Signaling.AnonymousWait
	a.http = &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	// Shutdown waits for running handlers: end the anonymous viewers' waits for rooms
	// at once rather than hold it up to signaling.anonymous_wait.
	a.http.RegisterOnShutdown(a.signaling.Drain)
	return a, nil
}

// abort releases what newAppContext started before a later step failed, and returns err.
func (a *app) abort(err error) (*app, error) {
	if a.listener != nil {
		_ = a.listener.Close()
	}
	a.closeRTMP()
	a.closeRelays()
	a.closeInteraction()
	if a.hls != nil {
		a.hls.Close()
	}
	if a.thumbs != nil {
		a.thumbs.Close()
	}
	_ = a.sfu.Close()
	a.webhooks.Close()
	return nil, err
}

// onSFUEvent hands room events to the room webhooks and, when a host goes live or
// leaves, has the relays update the directory at once.
func (a *app) onSFUEvent(e sfu.Event) {
	relayed := a.relays != nil && (e.Kind == sfu.EventTrackPublished || e.Kind == sfu.EventTrackUnpublished) && a.relays.IsRelaySession(e.Session)
	if a.webhooks != nil && !relayed {
		// A relay's tracks are the origin's host's, told by the origin node's webhooks.
		a.webhooks.SFUEvent(e, a.signaling.HostIdentity(e.Room))
	}
	if a.relays != nil && !relayed && (e.Kind == sfu.EventTrackPublished || e.Kind == sfu.EventTrackUnpublished) {
		a.relays.Announce() // a host went live or left: tell the directory now
	}
}

// collectors are what /metrics serves.
func (a *app) collectors() []prometheus.Collector {
	cs := []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}
	cs = append(cs, sfu.Collectors()...)
	cs = append(cs, a.sfu.CapacityCollectors()...)
	cs = append(cs, datachannel.Collectors()...)
	cs = append(cs, signaling.Collectors()...)
	cs = append(cs, a.signaling.RoomCollector())
	if a.gifts != nil {
		cs = append(cs, a.gifts) // each webhook's undelivered gifts
	}
	cs = append(cs, rtmp.Collectors()...)
	cs = append(cs, relay.Collectors()...)
	if a.node != "" {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "glint", Name: "node_info",
			Help:        "1, labelled with this node's name and its cluster's (a cluster node's metrics say which node they are).",
			ConstLabels: prometheus.Labels{"node": a.node, "cluster": a.cfg.Bus.Cluster.Name},
		}, func() float64 { return 1 }))
	}
	cs = append(cs, llhls.Collectors()...)
	return append(cs, transcode.Collectors()...)
}

func (a *app) routes() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.collectors()...)
	demo, _ := fs.Sub(webclient.Demo, "demo")
	sdk, _ := fs.Sub(webclient.SDK, "sdk/dist")

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/demo/", http.StripPrefix("/demo/", http.FileServerFS(demo)))
	mux.Handle("GET /sdk/", publicScripts(http.StripPrefix("/sdk/", http.FileServerFS(sdk))))
	handlePages(mux)
	mux.Handle("/hls/", a.hls.Handler())
	mux.Handle("/", a.signaling.Handler())
	return mux
}

// URL is the base URL of the HTTP listener.
func (a *app) URL() string { return "http://" + a.listener.Addr().String() }

// start serves HTTP (and RTMP) in the background.
func (a *app) start() {
	go func() { a.served <- a.http.Serve(a.listener) }()
	if a.rtmp != nil {
		a.rtmp.Start()
	}
}

// close stops accepting requests, ends every session and releases the ports.
func (a *app) close(ctx context.Context) error {
	err := a.http.Shutdown(ctx)
	if serveErr := <-a.served; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	a.closeRTMP() // before the SFU: RTMP host sessions end with their connections
	a.signaling.Close(ctx)
	a.closeRelays() // before the bus: it takes this node's rooms out of the directory
	a.hls.Close()
	a.closeInteraction()
	a.thumbs.Close()
	err = errors.Join(err, a.sfu.Close())
	a.webhooks.Close() // after the SFU, whose events it sends
	return err
}

// startInteraction opens the bus, starts the gift webhook's delivery from it and the hub
// on it, and serves GET /ws/{room} and GET /rooms/{room}/gifts.
func (a *app) startInteraction(ctx context.Context) error {
	b, err := bus.Open(ctx, a.cfg.busConfig(), a.log)
	if err != nil {
		return err
	}
	a.bus = b
	if len(a.cfg.GiftWebhooks) > 0 {
		// Started before the hub takes gifts, so the webhook's consumers exist before the
		// first gift is appended and a URL's first run misses none.
		if a.gifts, err = signaling.NewGiftWebhook(b, a.cfg.GiftWebhooks, a.cfg.APIKey, a.cfg.APISecret,
			signaling.GiftWebhookOptions{GiveUp: a.cfg.GiftWebhookGiveUp}, a.log); err != nil {
			return err
		}
		if err := a.gifts.Start(context.Background()); err != nil {
			return err
		}
	}
	if a.hub, err = datachannel.NewHub(a.cfg.Interaction, b, datachannel.Options{Clocks: a.mediaClock, Audience: a.audience, Relaying: a.relaying, Origin: a.origin, Host: a.hostState, TokenLeeway: a.cfg.Auth.TokenLeeway, OnEvent: a.hls.Event}, a.log); err != nil {
		return err
	}
	a.signaling.EnableInteraction(a.hub)
	return nil
}

// mediaClock is a room's media clock for the interaction layer: the capture time of the
// frame at the live edge, from the host's sender reports. The room is looked up on every
// call, since the hub asks once per room and rooms come and go with their hosts.
func (a *app) mediaClock(room string) datachannel.MediaClock {
	return datachannel.MediaClockFunc(func() (int64, bool) {
		r := a.sfu.Room(room)
		if r == nil {
			return 0, false
		}
		t, ok := r.LiveEdge()
		return t.UnixMilli(), ok
	})
}

// audience is how many WebRTC viewers watch room on this node, for the interaction
// layer's presence count.
func (a *app) audience(room string) int {
	if r := a.sfu.Room(room); r != nil {
		return r.Info().Viewers
	}
	return 0
}

// relaying reports whether this node relays room from another node of its cluster
// (presence then does not count the relay, which the origin counts as a viewer).
func (a *app) relaying(room string) bool { return a.relays != nil && a.relays.Relaying(room) }

// origin is the node this node relays room from ("" when none), whose reports carry what
// its host's viewers get less of (room.quality).
func (a *app) origin(room string) string {
	if a.relays == nil {
		return ""
	}
	return a.relays.OriginNode(room)
}

// rtmpHost is told when an RTMP host joins or leaves: the webhook's participant events,
// and, on a cluster, the room opened in the interaction layer, so that a relaying node's
// viewers hear when this host's ladder sheds work (room.quality) even with no viewer here.
func (a *app) rtmpHost(joined bool, h rtmp.Host) {
	a.signaling.RTMPHost(joined, h)
	if joined && a.hub != nil && a.relays != nil {
		if err := a.hub.Open(h.Room); err != nil {
			a.log.Warn("room state not shared with the cluster", zap.String("room", h.Room), zap.Error(err))
		}
	}
}

// hostState is whether room's host is on the stage, for the interaction layer's
// room.live and room.ended events. A room the SFU does not have has no host.
func (a *app) hostState(room string) datachannel.HostState {
	r := a.sfu.Room(room)
	if r == nil {
		return datachannel.HostState{}
	}
	h := r.Host()
	return datachannel.HostState{Live: h.Live, Reason: h.Reason, Since: h.Since, Epoch: h.Epoch, Reduced: h.Reduced}
}

// closeInteraction closes the hub (every interaction connection, so no gift arrives
// after), then stops the gift webhook (a gift in flight is delivered again after the
// restart), then closes the bus. Parts never started are skipped.
func (a *app) closeInteraction() {
	if a.hub != nil {
		a.hub.Close()
	}
	if a.gifts != nil {
		a.gifts.Close()
	}
	if a.bus != nil {
		_ = a.bus.Close()
	}
}

// checkFFmpegOnce is transcode.Check remembered per path: LL-HLS and RTMP ask at start,
// most often for the same ffmpeg.
func checkFFmpegOnce() func(string) (string, error) {
	type result struct {
		path string
		err  error
	}
	seen := map[string]result{}
	return func(ffmpeg string) (string, error) {
		r, ok := seen[ffmpeg]
		if !ok {
			r.path, r.err = transcode.Check(ffmpeg)
			seen[ffmpeg] = r
		}
		return r.path, r.err
	}
}

// newRTMP binds RTMP ingest when it is on. Without a usable ffmpeg the server still runs:
// RTMP says why at start-up and refuses publishes with that reason, and WHIP, playback and
// everything else keep working.
func newRTMP(cfg rtmp.Config, s *sfu.SFU, verifier *auth.Verifier, check func(string) (string, error), onHost func(bool, rtmp.Host), log *zap.Logger) (*rtmp.Server, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	opts := rtmp.Options{SFU: s, Verifier: verifier, OnHost: onHost}
	tc := cfg.Transcode.Defaults()
	if path, err := check(tc.FFmpeg); err != nil {
		opts.Unavailable = err
	} else {
		tc.FFmpeg = path
		opts.Ladder = rtmp.FFmpegLadder(tc)
	}
	return rtmp.New(cfg, opts, log.Named("rtmp"))
}

func (a *app) closeRTMP() {
	if a.rtmp != nil {
		_ = a.rtmp.Close()
	}
}

// newHLS builds the LL-HLS origin; a request needs a canSubscribe token for the room (in
// the access_token query parameter, which the origin carries into every URI it writes), or
// none when anonymous viewing is on.
func newHLS(cfg Config, s *sfu.SFU, v *auth.Verifier, check func(string) (string, error), log *zap.Logger) (*llhls.Origin, error) {
	authorize := func(r *http.Request, room string) (int, error) {
		if _, err := v.Authorize(r, room, cfg.Signaling.AllowAnonymousViewing, auth.PermSubscribe); err != nil {
			return auth.HTTPStatus(err), err
		}
		return 0, nil
	}
	if !cfg.HLS.CheckTokens {
		log.Warn("LL-HLS serves every live room without token checks (hls.check_tokens: false): only a CDN that checks signed URLs may reach it")
		authorize = nil
	}
	hls := cfg.HLS
	if hls.Enabled && hls.FFmpeg != "" {
		// ffmpeg makes AAC from the hosts' Opus and H.264 from a VP8 host's video while a
		// room's LL-HLS is watched; without it audio is Opus and VP8 rooms get 404 with why.
		if path, err := check(hls.FFmpeg); err != nil {
			log.Warn("LL-HLS without ffmpeg: audio is Opus, VP8 hosts' rooms get 404", zap.Error(err))
			hls.FFmpeg = ""
		} else {
			hls.FFmpeg = path
		}
	}
	return llhls.New(hls, s, authorize, log)
}
