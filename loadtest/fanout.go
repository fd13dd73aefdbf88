package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"golang.org/x/sync/errgroup"
)

// FanoutConfig describes one fanout run.
type FanoutConfig struct {
	WHIP, WHEP string
	// PublishToken and ViewToken authorise the two sides ("" for none).
	PublishToken, ViewToken string
	// Steps are the viewer counts to measure, in order (each adds viewers to the last).
	Steps []int
	// Duration is how long each step is measured once its viewers are connected.
	Duration time.Duration
	Clip     ClipSpec
	// Simulcast publishes three layers (q, h, f: quarter, half and full size of Clip, at a
	// sixteenth, a quarter and all of its bitrate).
	Simulcast bool
	// Layer caps what viewers ask for (WHEP ?layer=q|h|f); "" asks for nothing.
	Layer    string
	CacheDir string
	// ServerPID, when not 0, is read from /proc for the server's CPU and memory.
	ServerPID int
	// JoinConcurrency bounds viewers negotiating at once (in each agent, with Procs).
	JoinConcurrency int
	// Procs, when not 0, runs the viewers in that many agent processes (AgentCommand),
	// shared out evenly, instead of in this one: see agent.go.
	Procs int
	// CPUs pins agent i to CPUs[i % len(CPUs)] (nil: no pinning).
	CPUs [][]int
	// AgentCommand starts one agent (`glint loadtest fanout-agent`); AgentEnv is added to
	// its environment.
	AgentCommand []string
	AgentEnv     []string
	// Progress receives a live status line per second (nil: none).
	Progress io.Writer
}

// Validate checks the run is bounded and well-formed.
func (c *FanoutConfig) Validate() error {
	switch {
	case c.WHIP == "" || c.WHEP == "":
		return errors.New("loadtest: --whip and --whep URLs are required")
	case len(c.Steps) == 0:
		return errors.New("loadtest: no viewer counts given")
	case c.Duration < time.Second || c.Duration > time.Hour:
		return fmt.Errorf("loadtest: duration %s: want 1s to 1h", c.Duration)
	case c.JoinConcurrency < 1:
		return errors.New("loadtest: join concurrency must be at least 1")
	case c.Layer != "" && c.Layer != "q" && c.Layer != "h" && c.Layer != "f":
		return fmt.Errorf("loadtest: layer %q: want q, h or f", c.Layer)
	case c.Procs < 0 || c.Procs > maxProcs:
		return fmt.Errorf("loadtest: --procs %d: want 0..%d", c.Procs, maxProcs)
	case c.Procs > 0 && len(c.AgentCommand) == 0:
		return errors.New("loadtest: --procs needs the command that starts an agent")
	case c.Procs == 0 && len(c.CPUs) > 0:
		return errors.New("loadtest: --cpus pins agent processes: give --procs too")
	}
	if err := c.Clip.validate(); err != nil {
		return err
	}
	prev := 0
	for _, n := range c.Steps {
		if n < 1 || n > maxSteps || n < prev {
			return fmt.Errorf("loadtest: viewer steps must rise from 1 to at most %d, got %v", maxSteps, c.Steps)
		}
		prev = n
	}
	return nil
}

// maxSteps bounds a step's viewers, maxProcs the agent processes.
const (
	maxSteps = 5000
	maxProcs = 64
)

// Fanout runs the test and returns one result per step, with ErrNothingMeasured when no
// viewer connected in any step. Every viewer and the publisher are closed (their sessions
// DELETEd) before it returns.
func Fanout(ctx context.Context, cfg FanoutConfig) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	clips, err := loadClips(ctx, cfg.Clip, cfg.Simulcast, cfg.CacheDir)
	if err != nil {
		return nil, err
	}
	if cfg.Layer != "" {
		if cfg.WHEP, err = withQuery(cfg.WHEP, "layer", cfg.Layer); err != nil {
			return nil, err
		}
	}
	api, err := newAPI(cfg.WHEP, nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	pub, err := publish(ctx, api, client, cfg.WHIP, cfg.PublishToken, clips)
	if err != nil {
		return nil, err
	}
	defer pub.close()

	r := &run{cfg: cfg, pub: pub.pub, client: client, latency: newFrameLatency(), joins: &Histogram{}}
	defer r.closeViewers()
	if cfg.Procs > 0 {
		if r.agents, err = startAgents(ctx, cfg); err != nil {
			return nil, err
		}
		defer closeAgents(r.agents)
	}
	report := &Report{Target: cfg.WHEP, Clip: cfg.Clip, Duration: cfg.Duration, ClientCPUs: runtime.NumCPU(), ClientProcs: max(1, cfg.Procs), Started: time.Now()}
	time.Sleep(time.Second) // let the stream settle before the baseline reading
	if cfg.ServerPID != 0 {
		base, err := readProc(strconv.Itoa(cfg.ServerPID))
		if err != nil {
			return nil, err
		}
		r.baseRSS = base.rss
	}
	for i, n := range cfg.Steps {
		step, err := r.step(ctx, i, n)
		if err != nil {
			return report, err
		}
		report.Steps = append(report.Steps, step)
		if err := pub.failed(); err != nil {
			return report, err
		}
	}
	for _, s := range report.Steps {
		if s.Connected > 0 {
			return report, nil
		}
	}
	// Every viewer was refused (a token without canSubscribe, a full server): an all-zero
	// table is no measurement, and a script must not take it for one.
	return report, ErrNothingMeasured
}

// loadClips encodes (once) and loads the clip, or with simulcast the three layers' clips
// (quarter, half and full size of spec) lowest first.
func loadClips(ctx context.Context, spec ClipSpec, simulcast bool, cacheDir string) ([]*Clip, error) {
	specs := []ClipSpec{spec}
	if simulcast {
		q, h := spec, spec
		q.Width, q.Height, q.BitrateKbps = even(spec.Width/4), even(spec.Height/4), max(100, spec.BitrateKbps/16)
		h.Width, h.Height, h.BitrateKbps = even(spec.Width/2), even(spec.Height/2), max(100, spec.BitrateKbps/4)
		specs = []ClipSpec{q, h, spec}
	}
	clips := make([]*Clip, len(specs))
	for i, spec := range specs {
		c, err := LoadClip(ctx, spec, cacheDir)
		if err != nil {
			return nil, err
		}
		clips[i] = c
	}
	return clips, nil
}

// stream is a publisher sending its clip until closed: the media every test watches.
type stream struct {
	pub  *publisher
	stop context.CancelFunc
	done chan struct{}
	err  error // pub.run's result, set before done is closed
}

// publish connects a publisher over WHIP and starts it sending. It honours 429/503
// Retry-After as the viewers do (a server that bounds the handshakes one address has in
// flight may ask it to come back), for at most 20 s.
func publish(ctx context.Context, api *webrtc.API, client *http.Client, whip, token string, clips []*Clip) (*stream, error) {
	setup, cancelSetup := context.WithTimeout(ctx, 20*time.Second)
	pub, err := retrying(setup, maxDialAttempts, func(ctx context.Context) (*publisher, error) {
		return startPublisher(ctx, api, client, whip, token, clips)
	}, nil)
	cancelSetup()
	if err != nil {
		return nil, err
	}
	sending, stop := context.WithCancel(ctx)
	s := &stream{pub: pub, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = pub.run(sending)
	}()
	return s, nil
}

// failed returns why the publisher stopped sending, or nil while it sends.
func (s *stream) failed() error {
	select {
	case <-s.done:
		if s.err == nil {
			return errors.New("publisher stopped")
		}
		return fmt.Errorf("publisher stopped: %w", s.err)
	default:
		return nil
	}
}

// close stops sending, waits for the sender and ends the WHIP session.
func (s *stream) close() {
	s.stop()
	<-s.done
	s.pub.close()
}

// even rounds down to an even number: H.264 in 4:2:0 needs even dimensions.
func even(n int) int { return n &^ 1 }

// withQuery adds a query parameter to a URL.
func withQuery(raw, key, value string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("loadtest: %q: %w", raw, err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// run is the state of one fanout run.
type run struct {
	cfg     FanoutConfig
	client  *http.Client
	latency frameLatency
	joins   *Histogram
	pub     *publisher // nil in an agent
	baseRSS int64
	agents  []*agentProc // viewers live in these processes when there are any

	mu      sync.Mutex
	viewers []*viewer
	failed  int
}

// step grows the audience to n viewers and measures for the configured duration.
func (r *run) step(ctx context.Context, index, n int) (StepResult, error) {
	r.joins.Reset()
	if err := r.tellAgents("reset-joins"); err != nil {
		return StepResult{}, err
	}
	if err := r.grow(ctx, n); err != nil {
		return StepResult{}, err
	}
	r.latency.reset()
	if r.pub != nil {
		r.pub.sending.Reset()
	}
	if err := r.tellAgents("reset-latency"); err != nil {
		return StepResult{}, err
	}
	before, err := r.snapshot()
	if err != nil {
		return StepResult{}, err
	}
	if err := r.measure(ctx, index, n); err != nil {
		return StepResult{}, err
	}
	after, err := r.snapshot()
	if err != nil {
		return StepResult{}, err
	}
	return r.result(n, before, after), nil
}

// grow brings the audience to n viewers: here, or shared out over the agents.
func (r *run) grow(ctx context.Context, n int) error {
	if len(r.agents) == 0 {
		return r.addViewers(ctx, n)
	}
	return eachAgent(r.agents, func(i int, a *agentProc) error {
		share := n / len(r.agents)
		if i < n%len(r.agents) {
			share++
		}
		return a.call(agentRequest{Op: "add", N: share}, &agentReply{})
	})
}

// tellAgents sends every agent a request answered by a plain reply.
func (r *run) tellAgents(op string) error {
	return eachAgent(r.agents, func(_ int, a *agentProc) error {
		return a.call(agentRequest{Op: op}, &agentReply{})
	})
}

// addViewers connects viewers until there are n (failures are counted, not fatal: a server
// refusing viewers at its limit is a result).
func (r *run) addViewers(ctx context.Context, n int) error {
	r.mu.Lock()
	have := len(r.viewers) + r.failed
	r.mu.Unlock()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.cfg.JoinConcurrency)
	for range n - have {
		g.Go(func() error {
			v, err := r.join(gctx)
			r.mu.Lock()
			defer r.mu.Unlock()
			if err != nil {
				r.failed++
				if r.failed == 1 {
					r.progress("viewer failed to join: %v\n", err)
				}
				return nil
			}
			r.viewers = append(r.viewers, v)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// join connects one viewer, honouring the server's Retry-After when it rate-limits (a
// polite client does; counting those as failures would measure the limiter, not the SFU).
// Bounded: 30 s and maxDialAttempts tries per viewer.
func (r *run) join(ctx context.Context) (*viewer, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return retrying(ctx, maxDialAttempts, func(ctx context.Context) (*viewer, error) {
		return startViewer(ctx, r.client, r.cfg.WHEP, r.cfg.ViewToken, r.latency, r.joins)
	}, nil)
}

// measure waits out the step, printing a status line every second.
func (r *run) measure(ctx context.Context, index, n int) error {
	end := time.Now().Add(r.cfg.Duration)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, err := r.snapshot()
	if err != nil {
		return err
	}
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		cur, err := r.snapshot()
		if err != nil {
			return err
		}
		secs := cur.at.Sub(last.at).Seconds()
		line := fmt.Sprintf("\rstep %d/%d: %d/%d viewers  p50 %s  p99 %s  %.1f Mbit/s  client CPU %.0f%%",
			index+1, len(r.cfg.Steps), cur.viewers, n, ms(r.latency.all.Quantile(0.5)), ms(r.latency.all.Quantile(0.99)),
			float64(cur.bytes-last.bytes)*8/1e6/secs, cpuPercent(last.self, cur.self))
		if len(r.agents) > 0 {
			line += fmt.Sprintf(" (%d processes)", len(r.agents)+1)
		}
		if cur.hasServer {
			line += fmt.Sprintf("  server CPU %.0f%%", cpuPercent(last.server, cur.server))
		}
		r.progress("%s   ", line)
		last = cur
	}
	r.progress("\n")
	return nil
}

func (r *run) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, format, args...)
	}
}

func (r *run) closeViewers() {
	r.mu.Lock()
	vs := r.viewers
	r.viewers = nil
	r.mu.Unlock()
	closeViewers(vs, 16)
}

// closeViewers ends every viewer's session (DELETE, then the peer connection), parallel at
// once.
func closeViewers(vs []*viewer, parallel int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for _, v := range vs {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); v.close(); <-sem }()
	}
	wg.Wait()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }
