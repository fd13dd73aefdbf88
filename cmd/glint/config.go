package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/ingest/rtmp"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/llhls"
	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

// Config is the whole server configuration: each package owns its part; this file only
// composes them. Precedence, lowest first: defaults, --dev, the YAML file, GLINT_* environment
// variables, flags.
type Config struct {
	// HTTPAddr is where WHIP, WHEP, the WebSocket protocol, LL-HLS, the demo pages and
	// /metrics are served (flag --http).
	HTTPAddr string `yaml:"http_addr"`
	// DataDir holds the embedded NATS server's JetStream store (flag --data).
	DataDir string `yaml:"data_dir"`
	// NodeURL is this node's HTTP base URL as the other nodes of a cluster reach it (they
	// pull rooms hosted here from its /whep). Empty: http:// and http_addr, or with
	// http_addr on every interface, this machine's first non-loopback IPv4 address.
	NodeURL string `yaml:"node_url"`
	// PublicURL is this node's HTTP base URL as browsers reach it (https://live2.example.com),
	// when that is not node_url: a cluster lists its nodes' public URLs at GET /nodes, and
	// the SDK's players and publishers fail over to them. Empty: node_url.
	PublicURL string `yaml:"public_url"`
	// APIKey and APISecret sign and check access tokens (LiveKit's scheme); with neither
	// set, serve makes a random pair for the run and prints it.
	APIKey    string `yaml:"api_key"`
	APISecret string `yaml:"api_secret"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// PprofAddr serves Go's profiler on its own listener; empty (the default) is off.
	// Keep it on loopback: profiles reveal internals.
	PprofAddr string `yaml:"pprof_addr"`
	// Dev is development mode: API key devkey / secret secret, anonymous viewing, RTMP on
	// loopback only.
	Dev bool `yaml:"dev"`
	// Auth is how tokens are checked (clock-skew leeway), for every protocol alike.
	Auth auth.Config `yaml:"auth"`
	// SFU is the WebRTC media engine: the UDP port, admission limits, fan-out and pacing.
	SFU sfu.Config `yaml:"sfu"`
	// Signaling is the HTTP edge: request limits, sessions, CORS, anonymous viewing.
	Signaling signaling.Config `yaml:"signaling"`
	// HLS is the LL-HLS origin: every live H.264 room at /hls/{room}/index.m3u8.
	HLS llhls.Config `yaml:"hls"`
	// RTMP is ingest from OBS and ffmpeg through the ffmpeg ladder.
	RTMP rtmp.Config `yaml:"rtmp"`
	// Interaction is chat, polls, Q&A, auctions and gifts; Bus carries and keeps them
	// (embedded NATS under <data_dir>/nats unless bus.url names a cluster).
	Interaction datachannel.Config `yaml:"interaction"`
	// Bus is where interaction events travel and are kept: NATS JetStream, embedded unless
	// url names a cluster.
	Bus bus.Config `yaml:"bus"`
	// GiftWebhooks receive every gift as a signed LiveKit webhook, at least once: each URL
	// has a durable consumer of the gift log on the bus (signaling.GiftWebhook).
	GiftWebhooks []string `yaml:"gift_webhooks"`
	// GiftWebhookGiveUp says when a gift webhook gives up on one gift, so that it holds
	// back the later ones no more: refused this many times, or not taken this long after
	// it was given. The gift then goes to its room's undelivered gift log
	// (GET /rooms/{room}/gifts/undelivered): none is dropped unrecorded.
	GiftWebhookGiveUp signaling.GiftGiveUp `yaml:"gift_webhook_give_up"`
	// Webhooks receive room_started, room_finished, participant_joined, participant_left,
	// track_published and track_unpublished as LiveKit sends them (signed LiveKit
	// WebhookEvents), in order per URL, each retried 6 times with back-off and then given
	// up (counted in glint_room_webhook_dead_letters_total); not kept across restarts.
	Webhooks []string `yaml:"webhooks"`

	// generatedSecret is set when no key/secret was configured and a random pair was made
	// for this run; serve prints it so the operator can mint tokens.
	generatedSecret bool
}

func defaultConfig() Config {
	return Config{
		HTTPAddr:    ":8080",
		DataDir:     "./data",
		LogLevel:    "info",
		Auth:        auth.DefaultConfig(),
		SFU:         sfu.DefaultConfig(),
		Signaling:   signaling.DefaultConfig(),
		HLS:         llhls.DefaultConfig(),
		RTMP:        rtmp.DefaultConfig(),
		Interaction: datachannel.DefaultConfig(),
		Bus:         bus.DefaultConfig(),

		GiftWebhookGiveUp: signaling.DefaultGiftGiveUp(),
	}
}

// The well-known --dev credentials.
const devKey, devSecret = "devkey", "secret"

// applyDev is --dev: zero-config local use with well-known credentials.
func (c *Config) applyDev() {
	c.Dev = true
	c.APIKey, c.APISecret = devKey, devSecret
	c.Signaling.AllowAnonymousViewing = true
	// RTMP takes publishes with the well-known dev secret: keep it on this machine.
	c.RTMP.Addr, c.RTMP.RTMPSAddr = devRTMPAddr, devRTMPSAddr
}

const devRTMPAddr, devRTMPSAddr = "127.0.0.1:1935", "127.0.0.1:1936"

// configFlags are the flags serve and token share.
type configFlags struct {
	file, httpAddr, data, apiKey, apiSecret, logLevel, publicIPs, iceServers, pprof, rtmp string
	cluster, clusterRoutes, clusterSecret                                                 string
	udpPort                                                                               int
	dev, anonymous                                                                        bool
	set                                                                                   map[string]bool
}

// registerConfigFlags adds the credential flags every command needs and, for serve, the
// server's own (token uses --data for a grant, so it must not get the data directory's).
func registerConfigFlags(fs *flag.FlagSet, serve bool) *configFlags {
	f := &configFlags{}
	fs.StringVar(&f.file, "config", "", "YAML config file (GLINT_CONFIG)")
	fs.BoolVar(&f.dev, "dev", false, "development mode: API key devkey / secret secret, anonymous viewing (GLINT_DEV)")
	fs.StringVar(&f.apiKey, "api-key", "", "API key tokens are signed with (GLINT_API_KEY)")
	fs.StringVar(&f.apiSecret, "api-secret", "", "API secret tokens are signed with (GLINT_API_SECRET)")
	if !serve {
		return f
	}
	fs.StringVar(&f.httpAddr, "http", "", "HTTP listen address, default :8080 (GLINT_HTTP)")
	fs.IntVar(&f.udpPort, "udp-port", 0, "UDP port for all WebRTC media (ICE UDP mux), default 7881 (GLINT_UDP_PORT)")
	fs.StringVar(&f.data, "data", "", "data directory, default ./data (GLINT_DATA)")
	fs.StringVar(&f.publicIPs, "public-ip", "", "comma-separated public IPs to announce in ICE candidates (GLINT_PUBLIC_IPS)")
	fs.StringVar(&f.iceServers, "ice-servers", "", "comma-separated stun:/turn: URLs handed to clients (GLINT_ICE_SERVERS)")
	fs.BoolVar(&f.anonymous, "allow-anonymous", false, "let WHEP viewers watch without a token (GLINT_ALLOW_ANONYMOUS)")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error (GLINT_LOG_LEVEL)")
	fs.StringVar(&f.rtmp, "rtmp", "", `RTMP listen address, default :1935 (127.0.0.1:1935 with --dev); "off" turns RTMP ingest off (GLINT_RTMP_ADDR)`)
	fs.StringVar(&f.pprof, "pprof", "", "serve Go's profiler at this address, e.g. 127.0.0.1:6060 (GLINT_PPROF)")
	fs.StringVar(&f.cluster, "cluster", "", "join a cluster of Glint nodes: the host:port this node takes the others' NATS routes on, e.g. 0.0.0.0:6222 (GLINT_CLUSTER; docs/CLUSTER.md)")
	fs.StringVar(&f.clusterRoutes, "cluster-routes", "", "comma-separated host:port cluster addresses of the other nodes (GLINT_CLUSTER_ROUTES)")
	fs.StringVar(&f.clusterSecret, "cluster-secret", "", "the secret every node of the cluster shares, 16 characters or more (GLINT_CLUSTER_SECRET)")
	return f
}

// load composes the configuration after fs.Parse.
func (f *configFlags) load(fs *flag.FlagSet, getenv func(string) string) (Config, error) {
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	cfg := defaultConfig()
	dev, err := f.bool("dev", f.dev, getenv("GLINT_DEV"))
	if err != nil {
		return cfg, err
	}
	if dev {
		cfg.applyDev()
	}
	file := f.pick("config", f.file, getenv("GLINT_CONFIG"))
	if file != "" {
		if err := decodeFile(file, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := f.overlay(&cfg, getenv); err != nil {
		return cfg, err
	}
	if cfg.APIKey == "" && cfg.APISecret == "" {
		cfg.APIKey, cfg.APISecret, cfg.generatedSecret = "API"+randomHex(6), randomHex(24), true
	}
	return cfg, cfg.Validate()
}

// overlay applies environment variables, then flags, over cfg.
func (f *configFlags) overlay(cfg *Config, getenv func(string) string) error {
	cfg.HTTPAddr = f.pick("http", f.httpAddr, getenv("GLINT_HTTP"), cfg.HTTPAddr)
	cfg.DataDir = f.pick("data", f.data, getenv("GLINT_DATA"), cfg.DataDir)
	cfg.APIKey = f.pick("api-key", f.apiKey, getenv("GLINT_API_KEY"), cfg.APIKey)
	cfg.APISecret = f.pick("api-secret", f.apiSecret, getenv("GLINT_API_SECRET"), cfg.APISecret)
	cfg.LogLevel = f.pick("log-level", f.logLevel, getenv("GLINT_LOG_LEVEL"), cfg.LogLevel)
	cfg.PprofAddr = f.pick("pprof", f.pprof, getenv("GLINT_PPROF"), cfg.PprofAddr)
	if addr := f.pick("rtmp", f.rtmp, getenv("GLINT_RTMP_ADDR")); addr == "off" {
		cfg.RTMP.Enabled = false
	} else if addr != "" {
		cfg.RTMP.Enabled, cfg.RTMP.Addr = true, addr
	}
	cfg.Bus.Cluster.Listen = f.pick("cluster", f.cluster, getenv("GLINT_CLUSTER"), cfg.Bus.Cluster.Listen)
	cfg.Bus.Cluster.Secret = f.pick("cluster-secret", f.clusterSecret, getenv("GLINT_CLUSTER_SECRET"), cfg.Bus.Cluster.Secret)
	if routes := f.pick("cluster-routes", f.clusterRoutes, getenv("GLINT_CLUSTER_ROUTES")); routes != "" {
		cfg.Bus.Cluster.Routes = splitList(routes)
	}
	if ips := f.pick("public-ip", f.publicIPs, getenv("GLINT_PUBLIC_IPS")); ips != "" {
		cfg.SFU.PublicIPs = splitList(ips)
	}
	if urls := f.pick("ice-servers", f.iceServers, getenv("GLINT_ICE_SERVERS")); urls != "" {
		cfg.SFU.ICEServers = splitList(urls)
	}
	cfg.Signaling.ICEServers = cfg.SFU.ICEServers
	// An explicit flag or variable wins either way, so --allow-anonymous=false turns off
	// what --dev or the file turned on.
	if env := getenv("GLINT_ALLOW_ANONYMOUS"); f.set["allow-anonymous"] || env != "" {
		anon, err := f.bool("allow-anonymous", f.anonymous, env)
		if err != nil {
			return err
		}
		cfg.Signaling.AllowAnonymousViewing = anon
	}
	port := getenv("GLINT_UDP_PORT")
	if f.set["udp-port"] {
		port = strconv.Itoa(f.udpPort)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("udp port %q is not a port number", port)
		}
		host, _, _ := net.SplitHostPort(cfg.SFU.UDPAddr)
		cfg.SFU.UDPAddr = net.JoinHostPort(host, strconv.Itoa(n))
	}
	return nil
}

// pick returns the flag's value when it was set, else the first non-empty fallback.
func (f *configFlags) pick(name, flagValue string, fallbacks ...string) string {
	if f.set[name] {
		return flagValue
	}
	for _, v := range fallbacks {
		if v != "" {
			return v
		}
	}
	return ""
}

func (f *configFlags) bool(name string, flagValue bool, env string) (bool, error) {
	if f.set[name] {
		return flagValue, nil
	}
	if env == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(env)
	if err != nil {
		return false, fmt.Errorf("environment for --%s: %q is not a boolean", name, env)
	}
	return v, nil
}

// decodeFile reads YAML strictly: an unknown key is an error, not a silent no-op.
func decodeFile(path string, cfg *Config) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// Validate checks the composed configuration once, each package its own part.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return fmt.Errorf("http_addr %q: %w", c.HTTPAddr, err)
	}
	if c.APIKey == "" || c.APISecret == "" {
		return errors.New("api_key and api_secret must both be set (or neither, for a generated pair)")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	for name, u := range map[string]string{"node_url": c.NodeURL, "public_url": c.PublicURL} {
		if err := checkBaseURL(name, u); err != nil {
			return err
		}
	}
	if err := c.Auth.Validate(); err != nil {
		return err
	}
	if err := c.SFU.Validate(); err != nil {
		return err
	}
	if err := c.Interaction.Validate(); err != nil {
		return err
	}
	if err := c.busConfig().Validate(); err != nil {
		return err
	}
	if len(c.GiftWebhooks) > 0 { // only a gift webhook gives up on gifts
		if err := c.GiftWebhookGiveUp.Validate(c.Bus.LogMaxAge); err != nil {
			return err
		}
	}
	if err := c.HLS.Validate(); err != nil {
		return err
	}
	if err := c.RTMP.Validate(); err != nil {
		return err
	}
	return c.Signaling.Validate()
}

// busConfig is the bus configuration with the embedded server's directory filled in.
func (c Config) busConfig() bus.Config {
	b := c.Bus
	b.DataDir = filepath.Join(c.DataDir, "nats")
	return b
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkBaseURL refuses a set base URL that is not http(s)://host[:port][/path].
func checkBaseURL(name, u string) error {
	if u == "" {
		return nil
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" {
		return fmt.Errorf("%s %q: want an http:// or https:// base URL, e.g. https://live1.example.com", name, u)
	}
	return nil
}
