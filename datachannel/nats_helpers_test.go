package datachannel

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap/zaptest"

	"github.com/glintlive/glint/datachannel/bus"
)

// natsServer runs a NATS server with JetStream on a random 127.0.0.1 port, standing in
// for a cluster several Glint nodes share, and returns its URL.
func natsServer(t *testing.T) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	return srv.ClientURL()
}

// openNATS connects a bus to url, closed after the test's hubs (cleanups run last first).
func openNATS(t *testing.T, url string) *bus.NATS {
	t.Helper()
	cfg := bus.DefaultConfig()
	cfg.URL = url
	b, err := bus.Open(context.Background(), cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}
