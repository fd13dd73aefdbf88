package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"
)

// Stream names.
const (
	logStream     = "GLINT_LOG"
	historyStream = "GLINT_HISTORY"
)

// NATS is the Bus on NATS and JetStream.
type NATS struct {
	node    string // random per Open: this process on the bus
	cfg     Config
	log     *zap.Logger
	srv     *server.Server // the embedded server; nil with an external URL
	nc      *nats.Conn
	js      jetstream.JetStream
	streams map[string]jetstream.Stream
	closed  chan struct{} // closed by the connection's ClosedHandler

	mu        sync.Mutex
	subs      map[*subscription]struct{}
	consumers map[*natsConsumer]struct{}
	isClosed  bool
	once      sync.Once
}

var _ Bus = (*NATS)(nil)

// Open starts the embedded server (or connects to cfg.URL) and makes sure the streams
// exist. Close releases everything.
func Open(ctx context.Context, cfg Config, log *zap.Logger) (*NATS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &NATS{node: nuid.Next(), cfg: cfg, log: log.Named("bus"), subs: map[*subscription]struct{}{}, closed: make(chan struct{}),
		consumers: map[*natsConsumer]struct{}{},
		streams:   map[string]jetstream.Stream{}}
	opts := []nats.Option{
		nats.Name("glint"),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("disconnected from NATS", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { b.log.Info("reconnected to NATS") }),
	}
	url := cfg.URL
	if url == "" {
		srv, err := startEmbedded(cfg, b.log)
		if err != nil {
			return nil, err
		}
		b.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
		if cfg.Cluster.Enabled() {
			opts = append(opts, nats.Token(cfg.Cluster.Secret))
		}
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.stopServer()
		return nil, fmt.Errorf("bus: connecting: %w", err)
	}
	b.nc = nc
	if err := b.setup(ctx); err != nil {
		_ = b.Close()
		return nil, err
	}
	return b, nil
}

// startEmbedded runs nats-server in this process with JetStream on file storage. Alone it
// listens on no port: the only client is this process, through an in-process pipe. In a
// cluster it takes the other nodes' routes on cluster.listen.
func startEmbedded(cfg Config, log *zap.Logger) (*server.Server, error) {
	if err := checkStore(cfg.DataDir, cfg.Cluster.Enabled()); err != nil {
		return nil, err
	}
	o := &server.Options{
		ServerName: "glint-embedded",
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		DontListen: true,
		NoSigs:     true,
		SyncAlways: cfg.SyncAlways,
	}
	if cfg.Cluster.Enabled() {
		name, err := cfg.Cluster.nodeName(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		if err := cfg.Cluster.serverOptions(o, name); err != nil {
			return nil, err
		}
	}
	srv, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	logger := &natsLogger{l: log.Named("nats")}
	srv.SetLoggerV2(logger, false, false, false)
	srv.Start()
	// A fatal error (a cluster port in use, routes it refuses) stops the start without a
	// word to the caller: watch for it rather than wait out the 30 s.
	for deadline := time.Now().Add(30 * time.Second); !srv.ReadyForConnections(100 * time.Millisecond); {
		if msg := logger.fatal.Load(); msg != nil || time.Now().After(deadline) {
			srv.Shutdown()
			srv.WaitForShutdown()
			if msg != nil {
				return nil, fmt.Errorf("bus: embedded server: %s", *msg)
			}
			return nil, errors.New("bus: embedded server did not start within 30s")
		}
	}
	return srv, nil
}

func (b *NATS) setup(ctx context.Context) error {
	js, err := jetstream.New(b.nc)
	if err != nil {
		return fmt.Errorf("bus: %w", err)
	}
	b.js = js
	// A node of an embedded cluster waits, for all its streams together, until enough
	// nodes have joined for JetStream to take them (cluster.join_timeout): the nodes of a
	// cluster start in any order.
	var deadline time.Time
	if b.srv != nil && b.cfg.Cluster.Enabled() {
		deadline = time.Now().Add(b.cfg.Cluster.JoinTimeout)
	}
	configs := []jetstream.StreamConfig{{
		Name: logStream, Subjects: []string{logPrefix + ">"}, Storage: jetstream.FileStorage,
		Replicas: b.cfg.replicas(), MaxAge: b.cfg.LogMaxAge, Duplicates: b.cfg.DedupWindow,
		Description: "Glint auction and gift records",
	}, {
		Name: historyStream, Subjects: []string{historyPrefix + ">"}, Storage: jetstream.FileStorage,
		Replicas: b.cfg.replicas(), MaxMsgsPerSubject: int64(b.cfg.ChatHistory), MaxAge: 7 * 24 * time.Hour,
		Duplicates: time.Minute, Description: "Glint chat history, the last messages of each room",
	}}
	// At once: on a new cluster each stream's first leader election takes seconds.
	streams := make([]jetstream.Stream, len(configs))
	errs := make([]error, len(configs))
	var wg sync.WaitGroup
	for i, sc := range configs {
		wg.Go(func() { streams[i], errs[i] = b.createStream(ctx, sc, deadline) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, sc := range configs {
		b.streams[sc.Name] = streams[i]
	}
	return nil
}

// createStream creates or updates a stream; with a deadline (a cluster forming) it tries
// again until then, each try bounded by the request timeout and the time left.
func (b *NATS) createStream(ctx context.Context, sc jetstream.StreamConfig, deadline time.Time) (jetstream.Stream, error) {
	for {
		limit := b.cfg.RequestTimeout
		if !deadline.IsZero() {
			limit = min(limit, max(time.Until(deadline), 100*time.Millisecond))
		}
		rctx, cancel := context.WithTimeout(ctx, limit)
		s, err := b.js.CreateOrUpdateStream(rctx, sc)
		cancel()
		switch {
		case err == nil:
			return s, nil
		case ctx.Err() != nil:
			return nil, fmt.Errorf("bus: stream %s: %w", sc.Name, ctx.Err())
		case deadline.IsZero():
			return nil, fmt.Errorf("bus: stream %s: %w", sc.Name, err)
		case !time.Now().Before(deadline):
			return nil, fmt.Errorf("bus: stream %s: the cluster's JetStream did not take it within %v: a new cluster needs all %d nodes of the streams' replicas up, an existing one %d of them; this node reaches %d other nodes of %v: %w",
				sc.Name, b.cfg.Cluster.JoinTimeout, sc.Replicas, sc.Replicas/2+1, b.srv.NumRemotes(), b.cfg.Cluster.Routes, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (b *NATS) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.cfg.RequestTimeout)
}

func (b *NATS) stream(l Log) (jetstream.Stream, error) {
	switch s := string(l); {
	case strings.HasPrefix(s, logPrefix):
		return b.streams[logStream], nil
	case strings.HasPrefix(s, historyPrefix):
		return b.streams[historyStream], nil
	}
	return nil, fmt.Errorf("%w: %q is not a log", ErrInvalid, l)
}

// Publish implements Bus.
func (b *NATS) Publish(room, topic string, data []byte) error {
	if topic == "*" {
		return fmt.Errorf("%w: publish to a wildcard", ErrInvalid)
	}
	m := nats.NewMsg(eventSubject(room, topic))
	m.Header.Set(nodeHeader, b.node)
	m.Data = data
	if err := b.nc.PublishMsg(m); err != nil {
		return b.wrap(err)
	}
	return nil
}

// nodeHeader carries the publisher's node id on room events.
const nodeHeader = "Glint-Node"

// Node implements Bus.
func (b *NATS) Node() string { return b.node }

// Append implements Bus.
func (b *NATS) Append(ctx context.Context, l Log, data []byte, o AppendOptions) (Ack, error) {
	if strings.ContainsAny(string(l), "*>") {
		return Ack{}, fmt.Errorf("%w: append to a wildcard", ErrInvalid)
	}
	if _, err := b.stream(l); err != nil {
		return Ack{}, err
	}
	var opts []jetstream.PublishOpt
	if o.ExpectLast != nil {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(*o.ExpectLast))
	}
	if o.MsgID != "" {
		opts = append(opts, jetstream.WithMsgID(o.MsgID))
	}
	ctx, cancel := b.timeout(ctx)
	defer cancel()
	ack, err := b.js.Publish(ctx, string(l), data, opts...)
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return Ack{}, fmt.Errorf("%w: %s", ErrConflict, apiErr.Description)
		}
		return Ack{}, b.wrap(err)
	}
	return Ack{Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// Replay implements Bus. It reads record by record with the stream's "next message for
// subject" lookup, so it needs no consumer and leaves nothing behind on the server.
func (b *NATS) Replay(ctx context.Context, l Log, from uint64, fn func(Record) error) error {
	s, err := b.stream(l)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return b.wrap(err)
	}
	last := info.State.LastSeq
	if from == 0 {
		from = 1
	}
	for seq := from; seq <= last; {
		if err := ctx.Err(); err != nil {
			return err
		}
		rctx, cancel := b.timeout(ctx)
		m, err := s.GetMsg(rctx, seq, jetstream.WithGetMsgSubject(string(l)))
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return b.wrap(err)
		}
		if m.Sequence > last {
			return nil
		}
		if err := fn(Record{Log: Log(m.Subject), Seq: m.Sequence, Time: m.Time, Data: m.Data}); err != nil {
			return err
		}
		seq = m.Sequence + 1
	}
	return nil
}

// Subscribe implements Bus.
func (b *NATS) Subscribe(room, topic string, fn func(Msg)) (Subscription, error) {
	s := &subscription{bus: b, room: room, fn: fn}
	b.mu.Lock()
	if b.isClosed {
		b.mu.Unlock()
		return nil, ErrClosed
	}
	ns, err := b.nc.Subscribe(eventSubject(room, topic), s.deliver)
	if err != nil {
		b.mu.Unlock()
		return nil, b.wrap(err)
	}
	s.ns = ns
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	// Make the subscription effective on the server before returning, so a message
	// published after Subscribe returns (by anyone) is delivered.
	if err := b.nc.FlushTimeout(b.cfg.RequestTimeout); err != nil {
		s.Stop()
		return nil, b.wrap(err)
	}
	return s, nil
}

func (b *NATS) wrap(err error) error {
	if errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return fmt.Errorf("bus: %w", err)
}

// Close implements Bus.
func (b *NATS) Close() error {
	b.once.Do(func() {
		b.mu.Lock()
		b.isClosed = true
		subs, consumers := b.subs, b.consumers
		b.subs, b.consumers = nil, nil
		b.mu.Unlock()
		for s := range subs {
			s.stop()
		}
		for c := range consumers {
			c.stop() // waits for a delivery in progress
		}
		if b.nc != nil {
			b.nc.Close()
			select { // the ClosedHandler runs on the connection's callback goroutine
			case <-b.closed:
			case <-time.After(10 * time.Second):
				b.log.Warn("NATS connection did not report closed within 10s")
			}
		}
		b.stopServer()
	})
	return nil
}

func (b *NATS) stopServer() {
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

type subscription struct {
	bus  *NATS
	room string
	fn   func(Msg)
	ns   *nats.Subscription

	mu      sync.Mutex // held while fn runs, so Stop waits for a delivery in progress
	stopped bool
}

func (s *subscription) deliver(m *nats.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	topic := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	s.fn(Msg{Room: s.room, Topic: untoken(topic), Node: m.Header.Get(nodeHeader), Data: m.Data})
}

// Stop implements Subscription. It must not be called from inside fn.
func (s *subscription) Stop() {
	s.bus.mu.Lock()
	if s.bus.subs != nil {
		delete(s.bus.subs, s)
	}
	s.bus.mu.Unlock()
	s.stop()
}

func (s *subscription) stop() {
	_ = s.ns.Unsubscribe()
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

// natsLogger routes the embedded server's logs to zap. Notices are debug: the server is
// chatty at start-up and its notices are not the operator's concern. A fatal message is
// kept for startEmbedded to fail with.
type natsLogger struct {
	l     *zap.Logger
	fatal atomic.Pointer[string]
}

func (n *natsLogger) Noticef(f string, v ...any) { n.l.Debug(fmt.Sprintf(f, v...)) }
func (n *natsLogger) Warnf(f string, v ...any)   { n.l.Warn(fmt.Sprintf(f, v...)) }
func (n *natsLogger) Fatalf(f string, v ...any) {
	msg := fmt.Sprintf(f, v...)
	n.fatal.CompareAndSwap(nil, &msg)
	n.l.Error(msg)
}
func (n *natsLogger) Errorf(f string, v ...any) {
	msg := fmt.Sprintf(f, v...)
	if strings.HasPrefix(msg, "Error trying to connect to route") {
		n.l.Warn(msg) // another node not up yet: expected while a cluster starts
		return
	}
	n.l.Error(msg)
}
func (n *natsLogger) Debugf(f string, v ...any) { n.l.Debug(fmt.Sprintf(f, v...)) }
func (n *natsLogger) Tracef(f string, v ...any) { n.l.Debug(fmt.Sprintf(f, v...)) }
