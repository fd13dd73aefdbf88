package main

import (
	"context"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu/sfutest"
)

// testConfig is the development config on free loopback ports, never the well-known ones
// (tests run side by side), with a temporary data directory for the embedded bus.
func testConfig(t *testing.T) Config {
	t.Helper()
	cfg := defaultConfig()
	cfg.applyDev()
	cfg.HTTPAddr, cfg.SFU.UDPAddr, cfg.DataDir = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	cfg.RTMP.Addr = "127.0.0.1:0"
	return cfg
}

// startApp runs the whole server on cfg; stop closes it, failing the test if it does not
// close cleanly within 10 s.
func startApp(t *testing.T, cfg Config) (a *app, stop func()) {
	t.Helper()
	a, err := newApp(cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	a.start()
	return a, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.close(ctx); err != nil {
			t.Error(err)
		}
	}
}
