package bus

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config selects and tunes the bus.
type Config struct {
	// URL of an external NATS cluster with JetStream (nats://host:4222,...). Empty runs an
	// embedded server that stores under DataDir and accepts no network connections, unless
	// Cluster joins it with other nodes'.
	URL string `yaml:"url"`
	// Cluster joins the embedded server with the other Glint nodes' (docs/CLUSTER.md).
	Cluster ClusterConfig `yaml:"cluster"`
	// DataDir is where the embedded server keeps JetStream; cmd/glint sets it to
	// <data_dir>/nats. Unused with URL.
	DataDir string `yaml:"-"`
	// Replicas for the streams (1, 3 or 5; at most the nodes of an embedded cluster). 0:
	// 3 on an embedded cluster of three nodes or more, else 1.
	Replicas int `yaml:"replicas"`
	// LogMaxAge is how long auction and gift records are kept.
	LogMaxAge time.Duration `yaml:"log_max_age"`
	// ChatHistory is how many chat messages are kept per room.
	ChatHistory int `yaml:"chat_history"`
	// DedupWindow is how long an Append's MsgID is remembered.
	DedupWindow time.Duration `yaml:"dedup_window"`
	// SyncAlways makes the embedded server fsync every write before acknowledging it,
	// so acknowledged bids survive a power cut, not only a crash of the process. Costs
	// throughput; off by default (the OS flushes within its own interval).
	SyncAlways bool `yaml:"sync_always"`
	// RequestTimeout bounds each JetStream request.
	RequestTimeout time.Duration `yaml:"request_timeout"`
}

// DefaultConfig is what `glint serve` starts with.
func DefaultConfig() Config {
	return Config{
		Cluster:        ClusterConfig{Name: "glint", JoinTimeout: 30 * time.Second},
		LogMaxAge:      90 * 24 * time.Hour,
		ChatHistory:    100,
		DedupWindow:    10 * time.Minute,
		RequestTimeout: 5 * time.Second,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.URL == "" && c.DataDir == "":
		return fmt.Errorf("bus: an embedded server needs a data directory")
	case c.Replicas != 0 && c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5:
		return fmt.Errorf("bus: replicas must be 0 (automatic), 1, 3 or 5, got %d", c.Replicas)
	case c.URL != "" && c.Cluster.Enabled():
		return fmt.Errorf("bus: url (an external NATS cluster) and cluster (embedded servers joined) exclude each other")
	case c.URL == "" && c.replicas() > c.Cluster.Nodes():
		return fmt.Errorf("bus: replicas %d needs as many nodes; the embedded server has %d (cluster.routes names the others)", c.replicas(), c.Cluster.Nodes())
	case c.LogMaxAge < time.Hour:
		return fmt.Errorf("bus: log_max_age must be at least 1h, got %v", c.LogMaxAge)
	case c.ChatHistory < 1 || c.ChatHistory > 10000:
		return fmt.Errorf("bus: chat_history must be 1..10000, got %d", c.ChatHistory)
	case c.DedupWindow < time.Second || c.DedupWindow > c.LogMaxAge:
		return fmt.Errorf("bus: dedup_window must be 1s..log_max_age, got %v", c.DedupWindow)
	case c.RequestTimeout < 100*time.Millisecond || c.RequestTimeout > time.Minute:
		return fmt.Errorf("bus: request_timeout must be 100ms..1m, got %v", c.RequestTimeout)
	}
	if err := c.Cluster.validate(); err != nil {
		return err
	}
	if c.URL != "" {
		for _, u := range splitURLs(c.URL) {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "nats" && p.Scheme != "tls" && p.Scheme != "ws" && p.Scheme != "wss") || p.Host == "" {
				return fmt.Errorf("bus: url %q is not a nats://, tls://, ws:// or wss:// URL", u)
			}
		}
	}
	return nil
}

// replicas is the streams' replica count: Replicas, or with 0, three on an embedded
// cluster of three nodes or more (a majority survives one node lost) and else one.
func (c Config) replicas() int {
	switch {
	case c.Replicas != 0:
		return c.Replicas
	case c.URL == "" && c.Cluster.Enabled() && c.Cluster.Nodes() >= 3:
		return 3
	}
	return 1
}

func splitURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}
