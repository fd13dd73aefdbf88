package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// BurstConfig describes one burst run: Sessions WHEP viewers set up as fast as the server
// lets them, held, then all closed, while the control plane's health URL is probed.
type BurstConfig struct {
	WHEP      string
	ViewToken string // "" for none (anonymous viewers need a room that exists)
	Sessions  int
	// Concurrency bounds the sessions being set up at once (Sessions: all at once).
	Concurrency int
	// Hold is how long the connected sessions are kept before they are closed.
	Hold time.Duration
	// Health is probed every 50 ms; "" is the WHEP URL's origin + /healthz.
	Health string
	// ServerPID, when not 0, is read from /proc for the server's CPU and memory.
	ServerPID int
	// Attempts bounds one session's tries when refused with 429/503; SessionTimeout bounds
	// its set-up in all, retries and ICE/DTLS included.
	Attempts       int
	SessionTimeout time.Duration
	// RSSAfterClose are the times after the close at which the server's memory is read
	// again (with ServerPID): memory returned late shows as a fall between them.
	RSSAfterClose []time.Duration
	// Progress receives a live status line per second (nil: none).
	Progress io.Writer
}

// Validate checks the run is bounded and well-formed.
func (c *BurstConfig) Validate() error {
	u, err := url.Parse(c.WHEP)
	switch {
	case c.WHEP == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("loadtest: --whep %q: want an http(s) URL", c.WHEP)
	case c.Sessions < 1 || c.Sessions > 10_000:
		return fmt.Errorf("loadtest: sessions %d: want 1 to 10000", c.Sessions)
	case c.Concurrency < 1:
		return errors.New("loadtest: concurrency must be at least 1")
	case c.Hold < 0 || c.Hold > time.Hour:
		return fmt.Errorf("loadtest: hold %s: want 0 to 1h", c.Hold)
	case c.Attempts < 1 || c.Attempts > 100:
		return fmt.Errorf("loadtest: attempts %d: want 1 to 100", c.Attempts)
	case c.SessionTimeout < time.Second || c.SessionTimeout > 10*time.Minute:
		return fmt.Errorf("loadtest: session timeout %s: want 1s to 10m", c.SessionTimeout)
	case c.ServerPID < 0:
		return fmt.Errorf("loadtest: server pid %d", c.ServerPID)
	}
	for _, d := range c.RSSAfterClose {
		if d < 0 || d > 10*time.Minute {
			return fmt.Errorf("loadtest: memory reading %s after the close: want 0 to 10m", d)
		}
	}
	return nil
}

// healthURL is the URL probed: Health, or the WHEP URL's origin + /healthz.
func (c *BurstConfig) healthURL() string {
	if c.Health != "" {
		return c.Health
	}
	u, _ := url.Parse(c.WHEP) // Validate parsed it
	return u.Scheme + "://" + u.Host + "/healthz"
}

// Burst runs the test. Every session it opened is closed (DELETEd) before it returns. It
// returns ErrNothingMeasured, with the report, when no session connected.
func Burst(ctx context.Context, cfg BurstConfig) (*BurstReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &burst{cfg: cfg, latency: newFrameLatency(), joins: &Histogram{}, health: newHealthPoller(cfg.healthURL()), rep: &BurstReport{
		Target: cfg.WHEP, Health: cfg.healthURL(), Sessions: cfg.Sessions, Concurrency: cfg.Concurrency, Hold: cfg.Hold, Started: time.Now(),
	}}
	// Keep-alive connections for as many sessions as set up at once: the burst measures the
	// server's session set-up, not the client's TCP handshakes.
	tr := &http.Transport{MaxIdleConnsPerHost: min(cfg.Concurrency, 256)}
	b.client = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	defer tr.CloseIdleConnections()
	return b.run(ctx)
}

// burst is the state of one burst run.
type burst struct {
	cfg    BurstConfig
	client *http.Client
	health *healthPoller
	rep    *BurstReport
	// Media, if a publisher is on the stage, is read and measured but not reported here.
	latency frameLatency
	joins   *Histogram

	setup                     samples
	connected, failed, active atomic.Int64
	refused503, refused429    atomic.Uint64
	lastConnected             atomic.Int64 // unix ns
	firstErr                  sync.Once

	mu      sync.Mutex
	viewers []*viewer
}

func (b *burst) run(ctx context.Context) (*BurstReport, error) {
	server := watchServer(b.cfg.ServerPID)
	defer server.stop()
	pollCtx, stopPolling := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() { defer close(polled); b.health.run(pollCtx) }()
	defer func() { stopPolling(); <-polled }()

	before := readNow(b.cfg.ServerPID)
	b.health.phase.Store(phaseBurst)
	start := time.Now()
	b.openAll(ctx)
	b.health.phase.Store(phaseHold)
	afterBurst := readNow(b.cfg.ServerPID)
	b.hold(ctx)
	b.health.phase.Store(phaseIdle)
	afterHold := readNow(b.cfg.ServerPID)

	b.mu.Lock()
	vs := b.viewers
	b.viewers = nil
	b.mu.Unlock()
	closeViewers(vs, 64)
	closed := time.Now()
	server.stop()
	b.report(start, before, afterBurst, afterHold, server)
	b.readAfterClose(ctx, closed)
	if b.rep.Connected == 0 {
		return b.rep, ErrNothingMeasured
	}
	return b.rep, ctx.Err()
}

// openAll sets up every session, Concurrency at once, and returns when each has
// connected or failed.
func (b *burst) openAll(ctx context.Context) {
	sem := make(chan struct{}, b.cfg.Concurrency)
	var wg sync.WaitGroup
	done, progressed := make(chan struct{}), make(chan struct{})
	go func() { defer close(progressed); b.progress(done) }()
	defer func() { close(done); <-progressed }()
	for range b.cfg.Sessions {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			b.open(ctx)
		}()
	}
	wg.Wait()
}

// open sets up one session, retrying when the server asks to, and files its outcome.
func (b *burst) open(ctx context.Context) {
	b.active.Add(1)
	defer b.active.Add(-1)
	ctx, cancel := context.WithTimeout(ctx, b.cfg.SessionTimeout)
	defer cancel()
	start := time.Now()
	v, err := retrying(ctx, b.cfg.Attempts, func(ctx context.Context) (*viewer, error) {
		return startViewer(ctx, b.client, b.cfg.WHEP, b.cfg.ViewToken, b.latency, b.joins)
	}, b.refused)
	if err != nil {
		b.failed.Add(1)
		b.firstErr.Do(func() { b.rep.FirstError = err.Error() })
		return
	}
	now := time.Now()
	b.setup.add(now.Sub(start))
	b.connected.Add(1)
	for last := b.lastConnected.Load(); now.UnixNano() > last && !b.lastConnected.CompareAndSwap(last, now.UnixNano()); last = b.lastConnected.Load() {
	}
	b.mu.Lock()
	b.viewers = append(b.viewers, v)
	b.mu.Unlock()
}

func (b *burst) refused(e *retryError) {
	if e.status == http.StatusTooManyRequests {
		b.refused429.Add(1)
	} else {
		b.refused503.Add(1)
	}
}

// hold keeps the sessions for Hold (less if ctx ends).
func (b *burst) hold(ctx context.Context) {
	if b.cfg.Hold <= 0 {
		return
	}
	b.say("holding %d sessions for %s\n", b.connected.Load(), b.cfg.Hold)
	t := time.NewTimer(b.cfg.Hold)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// progress prints a status line a second until done.
func (b *burst) progress(done <-chan struct{}) {
	if b.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			b.say("\n")
			return
		case <-t.C:
		}
		b.say("\rburst: %d/%d connected, %d failed, %d setting up, %d refused (503), %d rate-limited (429)   ",
			b.connected.Load(), b.cfg.Sessions, b.failed.Load(), b.active.Load(), b.refused503.Load(), b.refused429.Load())
	}
}

func (b *burst) say(format string, args ...any) {
	if b.cfg.Progress != nil {
		fmt.Fprintf(b.cfg.Progress, format, args...)
	}
}
