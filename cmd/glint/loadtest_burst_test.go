package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/glintlive/glint/loadtest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestLoadtestBurstAgainstGlint runs `glint loadtest burst`'s engine against a real server
// whose handshake bound (4) is far below the burst (20 at once): every session must still
// connect, by retrying the 503s the bound answers, and the report must add up.
func TestLoadtestBurstAgainstGlint(t *testing.T) {
	const sessions, limit = 20, 4
	cfg := testConfig(t)
	cfg.SFU.MaxHandshakes = limit
	cfg.SFU.HandshakeWait = 20 * time.Millisecond
	// The per-address limit would answer 429 first: this test is about the handshake bound.
	cfg.Signaling.RatePerSecond, cfg.Signaling.RateBurst = 1000, 1000
	a, stop := startApp(t, cfg)
	defer stop()
	token, err := auth.Issue(cfg.APIKey, cfg.APISecret, auth.TokenOptions{Room: "burst", Identity: "viewer", Subscribe: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rep, err := loadtest.Burst(ctx, loadtest.BurstConfig{
		WHEP: a.URL() + "/whep/burst", ViewToken: token, Sessions: sessions, Concurrency: sessions,
		Hold: 500 * time.Millisecond, ServerPID: os.Getpid(), Attempts: 30, SessionTimeout: 60 * time.Second,
		RSSAfterClose: []time.Duration{200 * time.Millisecond},
	})
	var table bytes.Buffer
	if rep != nil {
		_ = rep.WriteTable(&table)
	}
	t.Logf("burst report:\n%s", table.String())
	if err != nil {
		t.Fatalf("Burst: %v", err)
	}
	switch {
	case rep.Connected != sessions || rep.Failed != 0:
		t.Fatalf("connected %d, failed %d; want %d, 0 (first failure: %s)", rep.Connected, rep.Failed, sessions, rep.FirstError)
	case rep.Refused503 == 0:
		t.Errorf("no 503 counted: %d sessions at once against a bound of %d must be refused some", sessions, limit)
	case rep.Refused429 != 0:
		t.Errorf("%d 429s counted with the address limit raised", rep.Refused429)
	}
	// Refused sessions waited Retry-After (1 s) at least once, so the burst lasts longer
	// than a second, and the slowest set-up is within it.
	if rep.BurstMS < 1000 || rep.SetupMax > rep.BurstMS || rep.SetupP50 > rep.SetupP99 || rep.SetupP99 > rep.SetupMax || rep.SetupP50 <= 0 {
		t.Errorf("burst %.0f ms, set-up p50 %.0f p99 %.0f max %.0f ms: inconsistent", rep.BurstMS, rep.SetupP50, rep.SetupP99, rep.SetupMax)
	}
	// One probe every 50 ms through a burst of over a second, and through the 500 ms hold.
	for name, h := range map[string]loadtest.HealthStats{"burst": rep.HealthBurst, "hold": rep.HealthHold} {
		if h.Samples < 3 || h.Errors != 0 || h.P50 <= 0 || h.P50 > h.P99 || h.P99 > h.Max {
			t.Errorf("health during the %s: %+v; want several probes, no errors, ordered quantiles", name, h)
		}
	}
	if s := rep.Server; s == nil || s.RSSBeforeMiB <= 0 || s.RSSPeakMiB < s.RSSBeforeMiB/2 || s.RSSAfterCloseMiB <= 0 || len(s.Later) != 1 || s.CPUBurst <= 0 {
		t.Errorf("server figures %+v; want RSS before, peak, after close and one later reading, and CPU", s)
	}
	if n := a.signaling.Sessions(); n != 0 {
		t.Errorf("%d sessions left on the server after the run; want every one DELETEd", n)
	}
}

// TestLoadtestBurstNothingConnected: a run in which no session connects (an anonymous
// viewer of a room that does not exist is refused with 404, after a short wait for a host)
// measured nothing, and the command says so with an error, so `glint` exits non-zero.
func TestLoadtestBurstNothingConnected(t *testing.T) {
	cfg := testConfig(t)
	cfg.Signaling.AnonymousWait = 300 * time.Millisecond // the default outlasts the loadtest's HTTP timeout
	a, stop := startApp(t, cfg)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"loadtest", "burst", "--whep", a.URL() + "/whep/nosuchroom", "--sessions", "3", "--hold", "0s"}, &stdout, &stderr, func(string) string { return "" })
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if !errors.Is(err, loadtest.ErrNothingMeasured) {
		t.Fatalf("err = %v; want ErrNothingMeasured", err)
	}
	if !strings.Contains(stdout.String(), "404") {
		t.Errorf("the report does not show why the sessions failed (404)")
	}
}

// TestLoadtestFanoutNothingConnected: a fan-out run whose viewers are all refused (the
// newcomer's mistake: one publish-only token for both WHIP and WHEP, 403 for every viewer)
// measured nothing; the command says so with an error rather than print a table of zeros
// and exit 0, and the table still shows what was tried.
func TestLoadtestFanoutNothingConnected(t *testing.T) {
	requireTool(t, "ffmpeg (encodes the test clip)", "ffmpeg")
	cfg := testConfig(t)
	a, stop := startApp(t, cfg)
	defer stop()
	publishOnly, err := auth.Issue(cfg.APIKey, cfg.APISecret, auth.TokenOptions{Room: "lt", Identity: "h", Publish: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"loadtest", "fanout", "--whip", a.URL() + "/whip/lt", "--whep", a.URL() + "/whep/lt",
		"--token", publishOnly, "--viewers", "2", "--duration", "1s"}, &stdout, &stderr, func(string) string { return "" })
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	if !errors.Is(err, loadtest.ErrNothingMeasured) {
		t.Fatalf("err = %v; want ErrNothingMeasured", err)
	}
	if !strings.Contains(stderr.String(), "403") {
		t.Errorf("the output does not say why the viewers failed (403)")
	}
	if !strings.Contains(stdout.String(), "viewers") {
		t.Errorf("no report table on stdout")
	}
}
