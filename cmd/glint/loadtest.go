package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/glintlive/glint/loadtest"
)

const loadtestUsage = `usage: glint loadtest fanout --whip URL --whep URL [flags]
       glint loadtest chat --server URL --room ROOM --api-key K --api-secret S [flags]
       glint loadtest burst --whep URL [--view-token T] --sessions N [flags]
       glint loadtest hls --url URL --room ROOM [--token T] --viewers N [flags]

fanout publishes one H.264 + Opus stream over WHIP and attaches viewers over WHEP in steps,
measuring join time, per-frame latency, loss, freezes and throughput (and, with
--server-pid, the server's CPU and memory). Works against any WHIP/WHEP server. With
--procs N the viewers run in N processes of this binary (--cpus pins them, one CPU list
per process: --cpus 2-3/4-5), so that the client is not what limits a many-core server;
a step where some process of the client was CPU-bound is marked client-limited.

chat connects viewers to one room's interaction layer (WebSocket, and WHEP with the data
channel for --data-channels of them) and sends chat at --rate, measuring deliveries a
second and delivery latency. Glint only (docs/PROTOCOL.md).

burst sets up --sessions WHEP viewers at once (--concurrency at a time), each retrying per
Retry-After when refused, holds them, then closes them all, while probing --health every
50 ms: burst duration, set-up times, refusals, the health URL's latency during the burst
and the hold, and with --server-pid the server's CPU and its memory before, at peak, and
after the close. Works against any WHEP server that answers a health URL.

hls runs --viewers LL-HLS players of {url}/hls/{room}/index.m3u8, each doing what hls.js
does in low-latency mode (the highest variant or --variant's, its audio rendition, blocking
playlist reloads and preload-hinted parts), measuring part latency from the timing SEI in
every frame (--publish sends a stamped stream over WHIP first), stalls, HTTP errors by
status, bytes and requests a second, and with --server-pid the server's CPU per viewer and
memory. Works against any LL-HLS origin serving fMP4 parts of H.264.
`

func loadtestCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "chat" {
		return chatLoadtest(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "burst" {
		return burstLoadtest(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "hls" {
		return hlsLoadtest(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "fanout-agent" {
		// Started by `fanout --procs`, never by hand: it talks JSON on stdin and stdout.
		return loadtest.RunViewerAgent(ctx, os.Stdin, stdout)
	}
	if len(args) == 0 || args[0] != "fanout" {
		fmt.Fprint(stderr, loadtestUsage)
		return errors.New("loadtest: want a test name: fanout, chat, burst or hls")
	}
	fs := flag.NewFlagSet("glint loadtest fanout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadtest.FanoutConfig
	var viewers int
	var ramp, bitrate, jsonPath, cpus string
	fs.StringVar(&cfg.WHIP, "whip", "", "WHIP endpoint to publish to (required)")
	fs.StringVar(&cfg.WHEP, "whep", "", "WHEP endpoint to watch (required)")
	fs.StringVar(&cfg.PublishToken, "token", "", "bearer token for WHIP (and WHEP unless --view-token)")
	fs.StringVar(&cfg.ViewToken, "view-token", "", "bearer token for WHEP")
	fs.IntVar(&viewers, "viewers", 10, "viewers (the last step when --ramp is given)")
	fs.StringVar(&ramp, "ramp", "", "comma-separated viewer counts to step through, e.g. 10,50,100,200")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long each step is measured")
	fs.StringVar(&bitrate, "bitrate", "2500k", "video bitrate of the test clip")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "server process to read CPU and memory of (same machine)")
	fs.BoolVar(&cfg.Simulcast, "simulcast", false, "publish three layers q/h/f (1/4, 1/2 and full size at 1/16, 1/4 and all of --bitrate)")
	fs.StringVar(&cfg.Layer, "layer", "", "cap every viewer at this layer (q, h or f) with WHEP ?layer=")
	fs.IntVar(&cfg.JoinConcurrency, "join-concurrency", 8, "viewers negotiating at once")
	fs.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file")
	fs.IntVar(&cfg.Procs, "procs", 0, "run the viewers in this many processes (0: in this one)")
	fs.StringVar(&cpus, "cpus", "", "pin the viewer processes: one CPU list per process, '/'-separated, e.g. 2-3/4-5 (reused round-robin)")
	var cpuProfile string
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write the load tester's own CPU profile to this file (with --procs, the publisher's process only)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	stop, err := startCPUProfile(cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	if cfg.ViewToken == "" {
		cfg.ViewToken = cfg.PublishToken
	}
	if cfg.CPUs, err = loadtest.ParseCPUSets(cpus); err != nil {
		return err
	}
	if cfg.Procs > 0 {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("loadtest: --procs: find this binary to start agents: %w", err)
		}
		cfg.AgentCommand = []string{self, "loadtest", "fanout-agent"}
	}
	steps, err := parseSteps(ramp, viewers)
	if err != nil {
		return err
	}
	cfg.Steps = steps
	cfg.Clip = loadtest.DefaultClip()
	if cfg.Clip.BitrateKbps, err = parseKbps(bitrate); err != nil {
		return err
	}
	cfg.CacheDir = clipCacheDir()
	cfg.Progress = stderr
	report, err := loadtest.Fanout(ctx, cfg)
	if report != nil && len(report.Steps) > 0 {
		if werr := writeReport(stdout, jsonPath, report); werr != nil {
			return werr
		}
	}
	return err
}

// clipCacheDir is where the encoded test clips are kept between runs.
func clipCacheDir() string {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "glint", "loadtest")
}

func parseSteps(ramp string, viewers int) ([]int, error) {
	if ramp == "" {
		return []int{viewers}, nil
	}
	var steps []int
	for _, f := range strings.Split(ramp, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("loadtest: --ramp %q: %q is not a number", ramp, f)
		}
		steps = append(steps, n)
	}
	return steps, nil
}

// parseKbps reads "2500k", "2.5M" or "2500000".
func parseKbps(s string) (int, error) {
	mult, num := 1.0/1000, strings.ToLower(strings.TrimSpace(s))
	switch {
	case strings.HasSuffix(num, "k"):
		mult, num = 1, strings.TrimSuffix(num, "k")
	case strings.HasSuffix(num, "m"):
		mult, num = 1000, strings.TrimSuffix(num, "m")
	}
	v, err := strconv.ParseFloat(num, 64)
	kbps := int(v * mult)
	if err != nil || kbps < 100 || kbps > 50000 {
		return 0, fmt.Errorf("loadtest: --bitrate %q: want 100k to 50M", s)
	}
	return kbps, nil
}

func chatLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("glint loadtest chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadtest.ChatConfig
	var jsonPath string
	fs.StringVar(&cfg.Server, "server", "", "the server's base URL, http://host:port (required)")
	fs.StringVar(&cfg.Room, "room", "loadtest-chat", "room to chat in")
	fs.StringVar(&cfg.APIKey, "api-key", "", "API key, to mint one token per viewer (required; --dev: devkey)")
	fs.StringVar(&cfg.APISecret, "api-secret", "", "API secret (required; --dev: secret)")
	fs.IntVar(&cfg.Viewers, "viewers", 100, "interaction connections in the room")
	fs.IntVar(&cfg.DataChannels, "data-channels", 0, "how many of the viewers connect over WHEP with the data channel (the rest over WebSocket)")
	fs.BoolVar(&cfg.Batched, "batch", true, "ask for batched frames (glint.v1.batch: several events in one frame); --batch=false for one per frame")
	fs.Float64Var(&cfg.Rate, "rate", 10, "chat messages a second, across all senders")
	fs.Float64Var(&cfg.PerSender, "per-sender", 0.8, "messages a second one identity sends (the server's chat limit is 1/s)")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "how long messages are sent")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "server process to read CPU and memory of (same machine)")
	fs.IntVar(&cfg.JoinConcurrency, "join-concurrency", 16, "viewers connecting at once")
	fs.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file")
	var cpuProfile string
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write the load tester's own CPU profile to this file (is it the client that falls behind?)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stop, err := startCPUProfile(cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	cfg.Progress = stderr
	report, err := loadtest.Chat(ctx, cfg)
	if report != nil {
		if werr := writeReport(stdout, jsonPath, report); werr != nil {
			return werr
		}
	}
	return err
}

func burstLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("glint loadtest burst", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadtest.BurstConfig
	var jsonPath string
	fs.StringVar(&cfg.WHEP, "whep", "", "WHEP endpoint to open the sessions on (required)")
	fs.StringVar(&cfg.ViewToken, "view-token", "", "bearer token for WHEP (anonymous viewers need a room that exists)")
	fs.IntVar(&cfg.Sessions, "sessions", 1000, "viewer sessions to set up (1-10000)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "sessions being set up at once (default: all of --sessions)")
	fs.DurationVar(&cfg.Hold, "hold", 10*time.Second, "how long the connected sessions are kept before they are closed")
	fs.StringVar(&cfg.Health, "health", "", "URL probed every 50 ms (default: the WHEP URL's origin + /healthz)")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "server process to read CPU and memory of (same machine); adds readings 10 s and 40 s after the close")
	fs.IntVar(&cfg.Attempts, "attempts", 20, "tries per session when refused with 429/503")
	fs.DurationVar(&cfg.SessionTimeout, "session-timeout", time.Minute, "bound on one session's set-up, retries included")
	fs.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = cfg.Sessions
	}
	if cfg.ServerPID != 0 {
		cfg.RSSAfterClose = []time.Duration{10 * time.Second, 40 * time.Second}
	}
	cfg.Progress = stderr
	report, err := loadtest.Burst(ctx, cfg)
	if report != nil {
		if werr := writeReport(stdout, jsonPath, report); werr != nil {
			return werr
		}
	}
	return err
}

func hlsLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("glint loadtest hls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadtest.HLSConfig
	var bitrate, jsonPath string
	fs.StringVar(&cfg.URL, "url", "", "the server's base URL, http://host:port (required)")
	fs.StringVar(&cfg.Room, "room", "", "room to watch (required)")
	fs.StringVar(&cfg.Token, "token", "", "access token, sent as ?access_token= (with --publish also the WHIP bearer token unless --publish-token)")
	fs.IntVar(&cfg.Viewers, "viewers", 100, "LL-HLS players (1-20000)")
	fs.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long the viewers are measured once they have joined")
	fs.StringVar(&cfg.Variant, "variant", "top", "variant to follow: top (the highest BANDWIDTH) or a simulcast layer q, h or f")
	fs.BoolVar(&cfg.Audio, "audio", true, "also follow the variant's audio rendition, as a player does")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", 10*time.Second, "bound on every request, blocking ones included")
	fs.IntVar(&cfg.JoinConcurrency, "join-concurrency", 50, "viewers joining at once")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "server process to read CPU and memory of (same machine)")
	fs.BoolVar(&cfg.Publish, "publish", false, "first publish the stamped test stream over WHIP to {url}/whip/{room}, as loadtest fanout does (needs ffmpeg once, to encode the clip)")
	fs.StringVar(&cfg.PublishToken, "publish-token", "", "bearer token for WHIP with --publish (default: --token)")
	fs.StringVar(&cfg.PublishURL, "publish-url", "", "with --publish, the base URL of the server to publish to (default --url): on a cluster, another node than the one read")
	fs.BoolVar(&cfg.Simulcast, "simulcast", false, "with --publish, send three layers q/h/f (1/4, 1/2 and full size at 1/16, 1/4 and all of --bitrate)")
	fs.StringVar(&bitrate, "bitrate", "2500k", "with --publish, video bitrate of the test clip")
	fs.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file")
	var cpuProfile string
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write the load tester's own CPU profile to this file (is it the client that falls behind?)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stop, err := startCPUProfile(cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	if cfg.PublishToken == "" {
		cfg.PublishToken = cfg.Token
	}
	if cfg.Publish {
		cfg.Clip, cfg.CacheDir = loadtest.DefaultClip(), clipCacheDir()
		var err error
		if cfg.Clip.BitrateKbps, err = parseKbps(bitrate); err != nil {
			return err
		}
	}
	cfg.Progress = stderr
	report, err := loadtest.HLS(ctx, cfg)
	if report != nil {
		if werr := writeReport(stdout, jsonPath, report); werr != nil {
			return werr
		}
	}
	return err
}

// writeReport prints a load test's table and, with --json, writes the report as JSON.
func writeReport(stdout io.Writer, jsonPath string, report interface{ WriteTable(io.Writer) error }) error {
	if err := report.WriteTable(stdout); err != nil {
		return err
	}
	if jsonPath == "" {
		return nil
	}
	b, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(jsonPath, append(b, '\n'), 0o644)
}

// startCPUProfile profiles this process into path until stop is called; an empty path
// profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
