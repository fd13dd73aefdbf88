package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// ChatConfig describes one chat run: Viewers interaction connections in one room, some of
// them over a WebRTC data channel (WHEP), the rest over WebSocket, and Rate chat messages a
// second spread over as many senders as the server's per-identity chat limit needs.
type ChatConfig struct {
	// Server is the base URL (http://host:port); /ws/{room} and /whep/{room} are used.
	Server string
	Room   string
	// APIKey and APISecret mint one token per simulated viewer: distinct identities, as a
	// real audience has (the server limits chat per identity).
	APIKey, APISecret string
	Viewers           int
	// DataChannels of the Viewers connect over WHEP with the glint.v1 data channel.
	DataChannels int
	// Batched asks the server for batched frames (the glint.v1.batch subprotocol and
	// data-channel protocol): several envelopes in one frame.
	Batched bool
	// Rate is chat messages per second, across all senders.
	Rate float64
	// PerSender is the rate one identity sends at, under the server's chat limit.
	PerSender float64
	Duration  time.Duration
	// ServerPID, when not 0, is read from /proc for the server's CPU and memory.
	ServerPID       int
	JoinConcurrency int
	Progress        io.Writer
}

// Validate checks the run is bounded and well-formed.
func (c *ChatConfig) Validate() error {
	switch {
	case c.Server == "" || c.Room == "":
		return errors.New("loadtest: --server and --room are required")
	case c.APIKey == "" || c.APISecret == "":
		return errors.New("loadtest: --api-key and --api-secret are required to mint viewers' tokens")
	case c.Viewers < 1 || c.Viewers > 20000:
		return fmt.Errorf("loadtest: viewers %d: want 1 to 20000", c.Viewers)
	case c.DataChannels < 0 || c.DataChannels > c.Viewers || c.DataChannels > 500:
		return fmt.Errorf("loadtest: data-channel viewers %d: want 0 to min(viewers, 500)", c.DataChannels)
	case c.Rate <= 0 || c.Rate > 10000:
		return fmt.Errorf("loadtest: rate %v: want more than 0, at most 10000 messages a second", c.Rate)
	case c.PerSender <= 0:
		return errors.New("loadtest: per-sender rate must be positive")
	case c.Duration < time.Second || c.Duration > time.Hour:
		return fmt.Errorf("loadtest: duration %s: want 1s to 1h", c.Duration)
	case c.JoinConcurrency < 1:
		return errors.New("loadtest: join concurrency must be at least 1")
	}
	if c.senders() > c.Viewers {
		return fmt.Errorf("loadtest: %v messages a second at %v per sender needs %d senders, more than the %d viewers",
			c.Rate, c.PerSender, c.senders(), c.Viewers)
	}
	return nil
}

func (c *ChatConfig) senders() int { return int(math.Ceil(c.Rate / c.PerSender)) }

// ChatReport is what a chat run measured.
type ChatReport struct {
	Viewers      int     `json:"viewers"`
	DataChannels int     `json:"dataChannels"`
	Senders      int     `json:"senders"`
	Rate         float64 `json:"rate"`
	Seconds      float64 `json:"seconds"`
	Sent         uint64  `json:"sent"`
	Acked        uint64  `json:"acked"`
	Refused      uint64  `json:"refused"`
	// Delivered counts chat.message events received for the run's messages; Expected is
	// acked messages times viewers connected; Missed is what chat.missed markers reported.
	Delivered      uint64  `json:"delivered"`
	Expected       uint64  `json:"expected"`
	Missed         uint64  `json:"missed"`
	DeliveriesPerS float64 `json:"deliveriesPerSecond"`
	// Batched is whether the viewers asked for batched frames; EnvelopesPerFrame is how
	// many envelopes a frame carried on average, as received.
	Batched           bool    `json:"batched"`
	EnvelopesPerFrame float64 `json:"envelopesPerFrame"`
	LatencyMs         struct {
		P50, P95, P99, Max float64
	} `json:"latencyMs"`
	ServerCPU     float64 `json:"serverCpuPercent,omitempty"`
	ServerRSSKiB  int64   `json:"serverRssKiB,omitempty"`
	ClientCPU     float64 `json:"clientCpuPercent"`
	ClientLimited bool    `json:"clientLimited"`
}

// chatRun is the shared state of one run's connections.
type chatRun struct {
	cfg       ChatConfig
	latency   Histogram
	delivered atomic.Uint64
	frames    atomic.Uint64
	envelopes atomic.Uint64
	missed    atomic.Uint64
	sent      atomic.Uint64
	acked     atomic.Uint64
	refused   atomic.Uint64
	runID     string
}

// chatPrefix marks this run's messages: "lt <run> <unix nanos>".
func (r *chatRun) text(now time.Time) string {
	return "lt " + r.runID + " " + strconv.FormatInt(now.UnixNano(), 10)
}

// onChat records a chat.message's text if it is one of this run's.
func (r *chatRun) onChat(text string, now time.Time) {
	rest, ok := strings.CutPrefix(text, "lt "+r.runID+" ")
	if !ok {
		return
	}
	ns, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return
	}
	r.delivered.Add(1)
	r.latency.Record(now.Sub(time.Unix(0, ns)))
}

func perFrame(envelopes, frames uint64) float64 {
	if frames == 0 {
		return 0
	}
	return float64(envelopes) / float64(frames)
}

// Chat runs the chat load test: connect every viewer, send for Duration, wait for the last
// deliveries, and report.
func Chat(ctx context.Context, cfg ChatConfig) (*ChatReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &chatRun{cfg: cfg, runID: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}
	conns, err := r.connect(ctx)
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()
	if err != nil {
		return nil, err
	}
	a := readNow(cfg.ServerPID)
	start := time.Now()
	progress := r.startProgress(ctx, len(conns))
	r.send(ctx, conns[:cfg.senders()])
	sendEnd := time.Now()
	// Deliveries still in flight: give them a moment, bounded.
	drain := time.NewTimer(2 * time.Second)
	select {
	case <-ctx.Done():
	case <-drain.C:
	}
	progress()
	b := readNow(cfg.ServerPID)
	rep := &ChatReport{
		Batched: cfg.Batched, EnvelopesPerFrame: perFrame(r.envelopes.Load(), r.frames.Load()),
		Viewers: len(conns), DataChannels: cfg.DataChannels, Senders: cfg.senders(), Rate: cfg.Rate,
		Seconds: sendEnd.Sub(start).Seconds(), Sent: r.sent.Load(), Acked: r.acked.Load(), Refused: r.refused.Load(),
		Delivered: r.delivered.Load(), Missed: r.missed.Load(),
	}
	rep.Expected = rep.Acked * uint64(len(conns))
	rep.DeliveriesPerS = float64(rep.Delivered) / rep.Seconds
	rep.LatencyMs.P50, rep.LatencyMs.P95, rep.LatencyMs.P99 = msf(r.latency.Quantile(0.5)), msf(r.latency.Quantile(0.95)), msf(r.latency.Quantile(0.99))
	rep.LatencyMs.Max = msf(r.latency.Max())
	if a.hasServer && b.hasServer {
		rep.ServerCPU = cpuPercent(a.server, b.server)
		rep.ServerRSSKiB = b.server.rss >> 10
	}
	rep.ClientCPU = cpuPercent(a.self, b.self)
	rep.ClientLimited = clientLimited(rep.ClientCPU)
	return rep, ctx.Err()
}

// chatConn is one viewer's interaction connection, WebSocket or data channel.
type chatConn interface {
	sendChat(id, text string) error
	close()
}

// connect opens every viewer's connection, data-channel viewers first, JoinConcurrency at
// a time; a failure stops the run.
func (r *chatRun) connect(ctx context.Context) ([]chatConn, error) {
	conns := make([]chatConn, r.cfg.Viewers)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.cfg.JoinConcurrency)
	for i := range conns {
		g.Go(func() error {
			token, err := r.token(i)
			if err != nil {
				return err
			}
			if i < r.cfg.DataChannels {
				conns[i], err = dialDataChannel(gctx, r, token)
			} else {
				conns[i], err = dialWebSocket(gctx, r, token)
			}
			if err != nil {
				return fmt.Errorf("viewer %d: %w", i, err)
			}
			return nil
		})
	}
	err := g.Wait()
	var open []chatConn
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	return open, err
}

// send has each sender send its share of Rate, paced and staggered, until Duration ends.
func (r *chatRun) send(ctx context.Context, senders []chatConn) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	every := time.Duration(float64(len(senders)) / r.cfg.Rate * float64(time.Second))
	var wg sync.WaitGroup
	for i, c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Stagger the senders over one interval so the rate is even.
			select {
			case <-ctx.Done():
				return
			case <-time.After(every * time.Duration(i) / time.Duration(len(senders))):
			}
			tick := time.NewTicker(every)
			defer tick.Stop()
			for n := 0; ; n++ {
				r.sent.Add(1)
				if err := c.sendChat(fmt.Sprintf("s%d-%d", i, n), r.text(time.Now())); err != nil {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	wg.Wait()
}

// startProgress prints a status line every second until the returned stop is called.
func (r *chatRun) startProgress(ctx context.Context, viewers int) (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(r.cfg.Progress, "\r%d viewers  sent %d  acked %d  delivered %d  p99 %.1f ms   ",
					viewers, r.sent.Load(), r.acked.Load(), r.delivered.Load(), msf(r.latency.Quantile(0.99)))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		fmt.Fprintln(r.cfg.Progress)
	}
}

// WriteTable writes the report as a Markdown table row with its header.
func (rep *ChatReport) WriteTable(w io.Writer) error {
	framing := "single"
	if rep.Batched {
		framing = fmt.Sprintf("batched, %.2f per frame", rep.EnvelopesPerFrame)
	}
	_, err := fmt.Fprintf(w, "| viewers (dc) | frames | senders | msgs/s | sent / acked / refused | delivered / expected | missed | deliveries/s | latency p50 / p95 / p99 / max ms | server CPU %% | client CPU %% |\n"+
		"|---|---|---|---|---|---|---|---|---|---|---|\n"+
		"| %d (%d) | %s | %d | %.0f | %d / %d / %d | %d / %d | %d | %.0f | %.2f / %.2f / %.2f / %.2f | %.1f | %.1f%s |\n",
		rep.Viewers, rep.DataChannels, framing, rep.Senders, rep.Rate, rep.Sent, rep.Acked, rep.Refused, rep.Delivered, rep.Expected,
		rep.Missed, rep.DeliveriesPerS, rep.LatencyMs.P50, rep.LatencyMs.P95, rep.LatencyMs.P99, rep.LatencyMs.Max,
		rep.ServerCPU, rep.ClientCPU, map[bool]string{true: " (client-limited)", false: ""}[rep.ClientLimited])
	return err
}
