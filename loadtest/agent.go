package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"time"
)

// A fanout run's viewers can live in several processes (FanoutConfig.Procs), so that the
// client is not what limits a server with many cores: at ~7 µs of client CPU per packet,
// one process of pion receivers stops at a few hundred viewers of a 2.5 Mbit/s stream. Each
// agent process holds a share of the viewers and answers the coordinator's requests, one
// JSON line each way, over its stdin and stdout:
//
//	first line in: AgentConfig
//	{"op":"add","n":K}      connect viewers until this agent holds K (or failed trying)
//	{"op":"reset-joins"}    forget join times (a new step begins)
//	{"op":"reset-latency"}  forget frame latencies (measurement begins)
//	{"op":"snap"}           report counters and histograms (agentSnap)
//
// Every request is answered by one line: agentSnap for snap, {"ok":true} or {"error":…}
// for the rest. At the end of its input the agent closes its viewers and exits. Latency
// stays comparable across processes because every viewer measures against the send time
// the publisher stamps in each frame (one machine, one clock).

// AgentConfig is what a viewer agent needs to join viewers; it travels on stdin so the
// token never shows in the process list.
type AgentConfig struct {
	WHEP            string `json:"whep"`
	Token           string `json:"token"`
	JoinConcurrency int    `json:"join_concurrency"`
}

type agentRequest struct {
	Op string `json:"op"`
	N  int    `json:"n,omitempty"`
}

type agentReply struct {
	OK    bool   `json:"ok,omitempty"`
	Error string `json:"error,omitempty"`
}

// agentSnap is an agent's counters and histograms at one moment.
type agentSnap struct {
	Viewers   int       `json:"viewers"`
	Failed    int       `json:"failed"`
	Frames    uint64    `json:"frames"`
	Unstamped uint64    `json:"frames_unstamped"`
	Freezes   uint64    `json:"freezes"`
	Packets   uint64    `json:"packets"`
	Bytes     uint64    `json:"bytes"`
	Received  uint64    `json:"received"`
	Expected  uint64    `json:"expected"`
	CPU       int64     `json:"cpu_ns"`     // the agent's own CPU time so far
	Procs     int       `json:"gomaxprocs"` // the cores it may use (its affinity, when pinned)
	All       histoWire `json:"latency_all"`
	Key       histoWire `json:"latency_key"`
	Delta     histoWire `json:"latency_delta"`
	Read      histoWire `json:"latency_read"`
	Joins     histoWire `json:"joins"`
}

// RunViewerAgent is the agent side (`glint loadtest fanout-agent`): it serves requests from
// in until in ends or ctx is done, then closes every viewer it opened.
func RunViewerAgent(ctx context.Context, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	if !sc.Scan() {
		return errors.New("loadtest agent: no configuration line on stdin")
	}
	var cfg AgentConfig
	if err := json.Unmarshal(sc.Bytes(), &cfg); err != nil {
		return fmt.Errorf("loadtest agent: configuration: %w", err)
	}
	if cfg.WHEP == "" || cfg.JoinConcurrency < 1 {
		return errors.New("loadtest agent: configuration needs whep and join_concurrency ≥ 1")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	r := &run{cfg: FanoutConfig{WHEP: cfg.WHEP, ViewToken: cfg.Token, JoinConcurrency: cfg.JoinConcurrency},
		client: client, latency: newFrameLatency(), joins: &Histogram{}}
	defer r.closeViewers()
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var req agentRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return fmt.Errorf("loadtest agent: request %q: %w", sc.Text(), err)
		}
		var reply any = agentReply{OK: true}
		switch req.Op {
		case "add":
			if req.N < 0 || req.N > maxSteps {
				reply = agentReply{Error: fmt.Sprintf("add %d: want 0..%d", req.N, maxSteps)}
			} else if err := r.addViewers(ctx, req.N); err != nil {
				reply = agentReply{Error: err.Error()}
			}
		case "reset-joins":
			r.joins.Reset()
		case "reset-latency":
			r.latency.reset()
		case "snap":
			reply = r.agentSnap()
		default:
			reply = agentReply{Error: fmt.Sprintf("unknown op %q", req.Op)}
		}
		if err := enc.Encode(reply); err != nil {
			return fmt.Errorf("loadtest agent: reply: %w", err)
		}
	}
	return sc.Err()
}

func (r *run) agentSnap() agentSnap {
	c := r.localCounters()
	r.mu.Lock()
	failed := r.failed
	r.mu.Unlock()
	self, _ := readProc("self")
	return agentSnap{Viewers: c.viewers, Failed: failed, Frames: c.frames, Unstamped: c.unstamped, Freezes: c.freezes, Packets: c.packets,
		Bytes: c.bytes, Received: c.received, Expected: c.expected, CPU: int64(self.cpu), Procs: runtime.GOMAXPROCS(0),
		All: r.latency.all.wire(), Key: r.latency.key.wire(), Delta: r.latency.delta.wire(), Read: r.latency.read.wire(), Joins: r.joins.wire()}
}

// histoWire is a Histogram on the wire: its non-empty buckets as [index, count] pairs.
type histoWire struct {
	Buckets [][2]uint32 `json:"b,omitempty"`
	Max     int64       `json:"max"`
}

func (h *Histogram) wire() histoWire {
	w := histoWire{Max: h.max.Load()}
	for i := range h.buckets {
		if c := h.buckets[i].Load(); c > 0 {
			w.Buckets = append(w.Buckets, [2]uint32{uint32(i), c})
		}
	}
	return w
}

// add merges w into h; a bucket index out of range is an agent's bug and is refused.
func (h *Histogram) add(w histoWire) error {
	for _, b := range w.Buckets {
		if int(b[0]) >= histSize {
			return fmt.Errorf("loadtest: histogram bucket %d out of range", b[0])
		}
		h.buckets[b[0]].Add(b[1])
		h.count.Add(uint64(b[1]))
	}
	for {
		m := h.max.Load()
		if w.Max <= m || h.max.CompareAndSwap(m, w.Max) {
			return nil
		}
	}
}
