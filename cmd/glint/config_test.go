package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	yamlv3 "gopkg.in/yaml.v3"

	"github.com/glintlive/glint/signaling/auth"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func loadServe(t *testing.T, args []string, vars map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := registerConfigFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	return f.load(fs, env(vars))
}

func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "glint.yaml")
	yaml := "http_addr: \":9000\"\napi_key: filekey\napi_secret: filesecret\nsfu:\n  max_rooms: 7\n  udp_addr: \":9001\"\nsignaling:\n  max_sdp_bytes: 4096\nauth:\n  token_leeway: 30s\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadServe(t, []string{"--config", file, "--udp-port", "9100"}, map[string]string{
		"GLINT_HTTP": ":9500", "GLINT_API_KEY": "envkey", "GLINT_UDP_PORT": "9200",
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"http from env over file", cfg.HTTPAddr, ":9500"},
		{"api key from env over file", cfg.APIKey, "envkey"},
		{"api secret from file", cfg.APISecret, "filesecret"},
		{"udp port from flag over env and file", cfg.SFU.UDPAddr, ":9100"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.SFU.MaxRooms != 7 || cfg.Signaling.MaxSDPBytes != 4096 || cfg.Auth.TokenLeeway != 30*time.Second {
		t.Errorf("file values lost: max_rooms %d, max_sdp_bytes %d, token_leeway %v", cfg.SFU.MaxRooms, cfg.Signaling.MaxSDPBytes, cfg.Auth.TokenLeeway)
	}
}

func TestConfigDevAndGenerated(t *testing.T) {
	dev, err := loadServe(t, []string{"--dev"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dev.APIKey != "devkey" || dev.APISecret != "secret" || !dev.Signaling.AllowAnonymousViewing || dev.HTTPAddr != ":8080" || dev.SFU.UDPAddr != ":7881" {
		t.Errorf("--dev: %+v", dev)
	}
	gen, err := loadServe(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !gen.generatedSecret || len(gen.APISecret) < 32 || gen.Signaling.AllowAnonymousViewing {
		t.Errorf("no credentials: want a generated pair and no anonymous viewing, got %+v", gen)
	}
}

func TestConfigRejects(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	_ = os.WriteFile(unknown, []byte("http_adr: \":1\"\n"), 0o600)
	leeway := filepath.Join(dir, "leeway.yaml")
	_ = os.WriteFile(leeway, []byte("auth:\n  token_leeway: 2m\n"), 0o600)
	badType := filepath.Join(dir, "type.yaml")
	_ = os.WriteFile(badType, []byte("sfu:\n  max_rooms: many\n"), 0o600)
	shortHost := filepath.Join(dir, "host.yaml")
	_ = os.WriteFile(shortHost, []byte("sfu:\n  host_timeout: 300ms\n"), 0o600)
	perClient := filepath.Join(dir, "perclient.yaml")
	_ = os.WriteFile(perClient, []byte("sfu:\n  max_handshakes: 16\n  max_handshakes_per_client: 17\n"), 0o600)
	coalesce := filepath.Join(dir, "coalesce.yaml")
	_ = os.WriteFile(coalesce, []byte("interaction:\n  coalesce: 200ms\n"), 0o600)
	longWait := filepath.Join(dir, "wait.yaml")
	_ = os.WriteFile(longWait, []byte("signaling:\n  anonymous_wait: 2m\n"), 0o600)
	perAddress := filepath.Join(dir, "peraddress.yaml")
	_ = os.WriteFile(perAddress, []byte("signaling:\n  max_anonymous_waiting: 5\n  max_anonymous_waiting_per_address: 6\n"), 0o600)
	publicURL := filepath.Join(dir, "public.yaml")
	_ = os.WriteFile(publicURL, []byte("public_url: live2.example.com\n"), 0o600)
	nodeURL := filepath.Join(dir, "node.yaml")
	_ = os.WriteFile(nodeURL, []byte("node_url: ftp://10.0.0.2\n"), 0o600)
	warmup := filepath.Join(dir, "warmup.yaml")
	_ = os.WriteFile(warmup, []byte("sfu:\n  dynacast_warmup: 2h\n"), 0o600)
	giveUp := filepath.Join(dir, "giveup.yaml")
	_ = os.WriteFile(giveUp, []byte("gift_webhooks: [http://backend.example/gifts]\ngift_webhook_give_up:\n  after: 2400h\n"), 0o600)
	giveUpNever := filepath.Join(dir, "giveupnever.yaml")
	_ = os.WriteFile(giveUpNever, []byte("gift_webhooks: [http://backend.example/gifts]\ngift_webhook_give_up:\n  refusals: 0\n"), 0o600)
	cases := []struct {
		name string
		args []string
		vars map[string]string
		msg  string
	}{
		{"coalescing longer than its bound", []string{"--config", coalesce}, nil, "coalesce must be 0..50ms"},
		{"giving up on a gift after it expired", []string{"--config", giveUp}, nil, "gift_webhook_give_up.after"},
		{"no refusal allowed", []string{"--config", giveUpNever}, nil, "gift_webhook_give_up.refusals"},
		{"unknown yaml key", []string{"--config", unknown}, nil, "http_adr"},
		{"wrong yaml type", []string{"--config", badType}, nil, "many"},
		{"token leeway past livekit's", []string{"--config", leeway}, nil, "token_leeway"},
		{"host timeout under a sender-report interval", []string{"--config", shortHost}, nil, "host_timeout"},
		{"per-client handshakes above the total", []string{"--config", perClient}, nil, "max_handshakes_per_client"},
		{"anonymous wait past a client's patience", []string{"--config", longWait}, nil, "anonymous_wait"},
		{"per-address waits above the total", []string{"--config", perAddress}, nil, "max_anonymous_waiting_per_address"},
		{"public url without a scheme", []string{"--config", publicURL}, nil, "public_url"},
		{"node url not http", []string{"--config", nodeURL}, nil, "node_url"},
		{"dynacast warm-up past a minute", []string{"--config", warmup}, nil, "dynacast_warmup"},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, nil, "nope.yaml"},
		{"bad udp port", []string{"--udp-port", "70000"}, nil, "port"},
		{"bad env port", nil, map[string]string{"GLINT_UDP_PORT": "x"}, "port"},
		{"bad http addr", []string{"--http", "8080"}, nil, "http_addr"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "log_level"},
		{"bad public ip", []string{"--public-ip", "not-an-ip"}, nil, "public_ips"},
		{"bad ice server", []string{"--ice-servers", "http://x"}, nil, "ice_servers"},
		{"bad bool env", nil, map[string]string{"GLINT_DEV": "sure"}, "boolean"},
		{"key without secret", []string{"--api-key", "k"}, nil, "api_secret"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadServe(t, c.args, c.vars)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.msg)
			}
		})
	}
}

func TestTokenCommand(t *testing.T) {
	v, err := auth.NewVerifier(map[string]string{"devkey": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	// --publish-data, and --data, its old name (serve's --data is a directory), kept for scripts.
	for _, data := range []string{"--publish-data", "--data"} {
		var out, errOut bytes.Buffer
		args := []string{"token", "--dev", "--room", "show", "--identity", "host", "--publish", data, "--ttl", "2h"}
		if err := run(context.Background(), args, &out, &errOut, env(nil)); err != nil {
			t.Fatalf("%v: %s", err, errOut.String())
		}
		claims, err := v.Verify(strings.TrimSpace(out.String()))
		if err != nil {
			t.Fatal(err)
		}
		if claims.Identity != "host" || claims.Room != "show" || !claims.CanPublish || !claims.CanPublishData || claims.CanSubscribe || claims.RoomAdmin {
			t.Errorf("%s: claims %+v", data, claims)
		}
		if d := time.Until(claims.ExpiresAt); d < 119*time.Minute || d > 121*time.Minute {
			t.Errorf("expires in %s, want 2h", d)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"token", "--room", "r", "--identity", "i"}, &out, io.Discard, env(nil)); err == nil ||
		!strings.Contains(err.Error(), "no API key") {
		t.Errorf("token without credentials: %v", err)
	}
	if err := run(context.Background(), []string{"token", "--dev", "--identity", "i"}, &out, io.Discard, env(nil)); err == nil {
		t.Error("token without --room succeeded")
	}
}

func TestRunCommands(t *testing.T) {
	if err := run(context.Background(), nil, io.Discard, io.Discard, env(nil)); err == nil {
		t.Error("no command: want an error")
	}
	if err := run(context.Background(), []string{"launch"}, io.Discard, io.Discard, env(nil)); err == nil || !strings.Contains(err.Error(), "launch") {
		t.Errorf("unknown command: %v", err)
	}
	if err := run(context.Background(), []string{"serve", "-h"}, io.Discard, io.Discard, env(nil)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("serve -h: %v", err)
	}
}

// TestServeShutsDownOnSignal runs the real serve command on free ports and cancels its
// context as SIGINT would: it must return cleanly.
func TestServeShutsDownOnSignal(t *testing.T) {
	dir := t.TempDir() // the embedded bus stores here
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev", "--http", "127.0.0.1:0", "--udp-port", "0", "--rtmp", "127.0.0.1:0", "--data", dir, "--log-level", "error"}, io.Discard, io.Discard, env(nil))
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return after its context was cancelled")
	}
}

func TestAllowAnonymousOverridesDev(t *testing.T) {
	cfg, err := loadServe(t, []string{"--dev", "--allow-anonymous=false"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Signaling.AllowAnonymousViewing {
		t.Error("--allow-anonymous=false did not turn off --dev's anonymous viewing")
	}
	cfg, err = loadServe(t, nil, map[string]string{"GLINT_ALLOW_ANONYMOUS": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Signaling.AllowAnonymousViewing {
		t.Error("GLINT_ALLOW_ANONYMOUS=true ignored")
	}
}

func TestConfigRTMP(t *testing.T) {
	def, err := loadServe(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !def.RTMP.Enabled || def.RTMP.Addr != ":1935" || def.RTMP.App != "live" || def.RTMP.Transcode.Passthrough != "auto" || def.RTMP.TLS() {
		t.Errorf("defaults: %+v", def.RTMP)
	}
	dev, err := loadServe(t, []string{"--dev"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dev.RTMP.Addr != "127.0.0.1:1935" {
		t.Errorf("--dev: RTMP on %q, want loopback only (it takes the well-known dev secret)", dev.RTMP.Addr)
	}
	file := filepath.Join(t.TempDir(), "glint.yaml")
	yaml := `rtmp:
  addr: ":2935"
  max_connections: 4
  max_unauthenticated_per_address: 2
  first_stage_timeout: 2s
  cert_file: /etc/glint/cert.pem
  key_file: /etc/glint/key.pem
  rtmps_addr: ":2936"
  ffmpeg: /opt/ffmpeg/bin/ffmpeg
  passthrough: never
  ladder:
    - {rid: h, height: 720, bitrate: 2000000}
    - {rid: q, height: 360, bitrate: 600000}
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadServe(t, []string{"--config", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.RTMP
	if r.Addr != ":2935" || r.MaxConnections != 4 || r.MaxUnauthenticatedPerAddress != 2 || r.FirstStageTimeout != 2*time.Second || !r.TLS() || r.RTMPSAddr != ":2936" || r.Transcode.FFmpeg != "/opt/ffmpeg/bin/ffmpeg" ||
		r.Transcode.Passthrough != "never" || len(r.Transcode.Ladder) != 2 || r.Transcode.Ladder[1].Height != 360 {
		t.Errorf("from the file: %+v", r)
	}
	cfg, err = loadServe(t, []string{"--config", file, "--rtmp", "127.0.0.1:3935"}, map[string]string{"GLINT_RTMP_ADDR": ":4935"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RTMP.Addr != "127.0.0.1:3935" {
		t.Errorf("flag over env over file: %q", cfg.RTMP.Addr)
	}
	cfg, err = loadServe(t, []string{"--config", file}, map[string]string{"GLINT_RTMP_ADDR": ":4935"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RTMP.Addr != ":4935" {
		t.Errorf("env over file: %q", cfg.RTMP.Addr)
	}
	off, err := loadServe(t, []string{"--rtmp", "off"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if off.RTMP.Enabled {
		t.Error("--rtmp off left RTMP on")
	}
}

func TestConfigRTMPRejects(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, yaml, msg string }{
		{"unknown key", "rtmp:\n  adress: \":1\"\n", "adress"},
		{"bad addr", "rtmp:\n  addr: \"1935\"\n", "rtmp: addr"},
		{"cert without key", "rtmp:\n  cert_file: c.pem\n", "key_file"},
		{"no limit", "rtmp:\n  max_connections: 0\n", "max_connections"},
		{"bad passthrough", "rtmp:\n  passthrough: sometimes\n", "passthrough"},
		{"bad rid", "rtmp:\n  ladder: [{rid: x, height: 720, bitrate: 1000000}]\n", "rid"},
		{"four rungs", "rtmp:\n  ladder: [{rid: f, height: 1080, bitrate: 1000000}, {rid: h, height: 720, bitrate: 1000000}, {rid: q, height: 360, bitrate: 500000}, {rid: q, height: 240, bitrate: 300000}]\n", "ladder"},
		{"bad app", "rtmp:\n  app: \"li ve\"\n", "app"},
		{"nothing to listen on", "rtmp:\n  addr: \"\"\n", "nothing to listen on"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, fmt.Sprintf("%d.yaml", i))
			if err := os.WriteFile(file, []byte(c.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadServe(t, []string{"--config", file}, nil)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want one mentioning %q", err, c.msg)
			}
		})
	}
	if _, err := loadServe(t, []string{"--rtmp", "nope"}, nil); err == nil || !strings.Contains(err.Error(), "rtmp: addr") {
		t.Errorf("--rtmp nope: %v", err)
	}
}

// TestVersionAndHelp: `glint version` names the build and its Go version, and `glint help`
// lists every command there is, the four load tests among them.
func TestVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, io.Discard, env(nil)); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "glint ") || !strings.Contains(got, "go1.") {
		t.Errorf("glint version printed %q; want the build and its Go version", got)
	}
	out.Reset()
	if err := run(context.Background(), []string{"help"}, &out, io.Discard, env(nil)); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"glint serve", "glint token", "glint loadtest fanout", "glint loadtest chat", "glint loadtest burst", "glint loadtest hls", "glint version"} {
		if !strings.Contains(out.String(), cmd) {
			t.Errorf("glint help does not list %q", cmd)
		}
	}
}

// TestConfigDefaultsIsAValidConfig: what `glint config defaults` prints is a whole
// configuration serve accepts as it is (every key known, every value valid), commented
// with each key's doc, and loading it changes nothing from the defaults.
func TestConfigDefaultsIsAValidConfig(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"config", "defaults"}, &out, io.Discard, env(nil)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# SFU is the WebRTC media engine", "  pacing: true", "# Pacing spreads each viewer's bursts"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("glint config defaults lacks %q", want)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "glint.yaml")
	if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadServe(t, []string{"--config", file}, nil)
	if err != nil {
		t.Fatalf("serve --config <glint config defaults>: %v", err)
	}
	want := defaultConfig()
	cfg.generatedSecret, want.generatedSecret = false, false
	cfg.APIKey, cfg.APISecret = "", "" // a random pair, made because the file names none
	// Compared as YAML: an empty list read back is empty, not nil, and means the same.
	got, _ := yamlv3.Marshal(cfg)
	exp, _ := yamlv3.Marshal(want)
	if !bytes.Equal(got, exp) {
		t.Errorf("loading the printed defaults changed the configuration:\n got %s\nwant %s", got, exp)
	}
	// And serve starts on it (ports moved off the defaults by flags, which win).
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", file, "--http", "127.0.0.1:0", "--udp-port", "0", "--rtmp", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--log-level", "error"}, io.Discard, io.Discard, env(nil))
	}()
	select {
	case err := <-done:
		t.Fatalf("serve with the printed defaults stopped at once: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"config", "nonsense"}, io.Discard, io.Discard, env(nil)); err == nil {
		t.Error("glint config nonsense: want an error")
	}
}
