package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glintlive/glint/signaling/auth"
)

// netnsSetup gives the test a private network: loopback plus a veth pair. Chromium gathers
// no candidates on loopback, so it needs a non-loopback interface; this one exists only
// inside the namespace, so no test packet can leave the machine.
const netnsSetup = `set -e
ip link set lo up
ip link add glint0 type veth peer name glint1
ip addr add 10.213.0.1/24 dev glint0
ip addr add 10.213.0.2/24 dev glint1
ip link set glint0 up
ip link set glint1 up
exec "$@"`

// requireTool skips (outside CI) or fails (in CI) when a tool the test needs is missing.
func requireTool(t *testing.T, what, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	if _, err := exec.LookPath(path); err == nil {
		return
	}
	msg := what + " not found at " + path + "; install it (see README: Tests) or the test cannot run"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestBrowserPublishAndPlay: headless Chromium publishes its fake camera and microphone
// over WHIP from one page and a second page plays over WHEP through Glint. It passes only
// when the viewer's video has real dimensions, framesDecoded keeps increasing for 5 seconds
// and audio packets arrive (checked by webclient/e2e/whip_whep.mjs).
func TestBrowserPublishAndPlay(t *testing.T) {
	runBrowserScript(t, "e2e/whip_whep.mjs", nil, "--seconds", "5")
}

// TestBrowserSimulcast: Chromium publishes three simulcast encodings (VP8) over WHIP; one
// viewer capped at ?layer=q and one uncapped both keep decoding, and the capped viewer's
// frameWidth is smaller (checked by webclient/e2e/simulcast.mjs).
//
// Known flake (about 1 run in 6 on the 2-core CI machine, not yet understood): the uncapped
// viewer once decoded nothing for 10 s, once stalled for a second. The script is therefore
// run a second time when the first fails, and both outputs are logged, so a failure that
// repeats still fails the test while a one-off is visible in the log. See the issue notes.
func TestBrowserSimulcast(t *testing.T) {
	runBrowserScript(t, "e2e/simulcast.mjs", nil, "--seconds", "6", "--codec", "vp8")
}

// TestBrowserAuction: a Chromium viewer page (demo/auction.html) watching over WHEP bids
// over the interaction data channel on a lot an auctioneer opened over WebSocket, shows
// "outbid" when a rival bids higher and "sold" when the lot closes (webclient/e2e/auction.mjs).
func TestBrowserAuction(t *testing.T) {
	runBrowserScript(t, "e2e/auction.mjs", func(a *app, room string) []string {
		cfg := a.cfg
		tok := func(identity string, o auth.TokenOptions) string {
			o.Room, o.Identity, o.TTL = room, identity, time.Hour
			token, err := auth.Issue(cfg.APIKey, cfg.APISecret, o)
			if err != nil {
				t.Fatal(err)
			}
			return token
		}
		return []string{
			"--play-token", tok("bidder", auth.TokenOptions{Subscribe: true, Data: true}),
			"--admin-token", tok("auctioneer", auth.TokenOptions{Admin: true, Data: true}),
			"--rival-token", tok("rival", auth.TokenOptions{Subscribe: true, Data: true}),
		}
	})
}

// runBrowserScript starts Glint in a private network namespace and runs one of the web
// client's end-to-end scripts against it.
// extra, when not nil, gives further arguments for the room (tokens bound to it); it may
// also start what the room needs on the running app (an RTMP host).
func runBrowserScript(t *testing.T, script string, extra func(a *app, room string) []string, args ...string) {
	t.Helper()
	runBrowserScriptWith(t, nil, script, extra, args...)
}

// runBrowserScriptWith is runBrowserScript on a server whose config configure changes
// first (when not nil).
func runBrowserScriptWith(t *testing.T, configure func(*Config), script string, extra func(a *app, room string) []string, args ...string) {
	t.Helper()
	chromium, webclient, here := browserSetup(t)
	if !here {
		return
	}

	cfg := testConfig(t)
	cfg.SFU.UDPAddr = "0.0.0.0:0"
	if configure != nil {
		configure(&cfg)
	}
	a, stop := startApp(t, cfg)
	defer stop()
	attempts := 1
	if strings.Contains(script, "simulcast") || strings.Contains(script, "hls_latency") || strings.Contains(script, "frame_accuracy") || strings.Contains(script, "dynacast") {
		attempts = 2 // see TestBrowserSimulcast, TestBrowserLLHLS, TestBrowserFrameAccuracy and TestBrowserDynacast
	}
	for i := 1; ; i++ {
		room := fmt.Sprintf("browser%d", i)
		all := append([]string{"--server", a.URL(), "--room", room, "--publish-token", mustToken(t, cfg, room)}, args...)
		if extra != nil {
			all = append(all, extra(a, room)...)
		}
		err := runScript(t, webclient, chromium, script, all)
		if err == nil {
			return
		}
		if i == attempts {
			t.Fatalf("%s failed: %v", script, err)
		}
		t.Logf("RETRY: %s attempt %d failed (%v); running it once more", script, i, err)
	}
}

// browserSetup checks that Chromium, node and playwright-core are there and moves the test
// into a private network namespace: here is false in the parent, whose child process ran
// the test (and reported it); true in the namespace, where the test goes on.
func browserSetup(t *testing.T) (chromium, webclient string, here bool) {
	t.Helper()
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	requireTool(t, "Chromium", chromium)
	requireTool(t, "node", "node")
	webclient, _ = filepath.Abs("../../webclient")
	requireTool(t, "playwright-core (npm ci in webclient/)", filepath.Join(webclient, "node_modules", "playwright-core"))
	if os.Getenv("GLINT_IN_NETNS") != "1" {
		reexecInNetns(t)
		return "", "", false
	}
	return chromium, webclient, true
}

func mustToken(t *testing.T, cfg Config, room string) string {
	t.Helper()
	token, err := auth.Issue(cfg.APIKey, cfg.APISecret, auth.TokenOptions{Room: room, Identity: "host", Publish: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// runScript runs one end-to-end script (bounded) and logs its output.
func runScript(t *testing.T, dir, chromium, script string, args []string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", script, out)
	return err
}

// reexecInNetns runs this one test again inside a fresh network namespace.
func reexecInNetns(t *testing.T) {
	t.Helper()
	args := []string{"-n"}
	if os.Geteuid() != 0 {
		args = []string{"-rn"} // an unprivileged user namespace owns the network namespace
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, "sh", "-c", netnsSetup, "netns", self, "-test.run", "^"+t.Name()+"$", "-test.v")
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), "GLINT_IN_NETNS=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in a private network namespace:\n%s", out)
	if err != nil {
		if os.Getenv("CI") != "true" && !isTestFailure(out) {
			t.Skipf("cannot create a network namespace here (%v); the browser test needs one", err)
		}
		t.Fatalf("browser test failed: %v", err)
	}
}

func isTestFailure(out []byte) bool {
	return bytes.Contains(out, []byte("--- FAIL")) || bytes.Contains(out, []byte("--- PASS"))
}
