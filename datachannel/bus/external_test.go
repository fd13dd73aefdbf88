package bus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap/zaptest"
)

// externalServer runs a NATS server with JetStream listening on a random 127.0.0.1
// port, standing in for an external cluster, and returns its URL.
func externalServer(t *testing.T) string {
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

// TestExternalCluster connects two buses, as two Glint nodes would, to one NATS server
// by URL: they share logs and expected sequences, see each other's events, and tell
// their own events from the other's.
func TestExternalCluster(t *testing.T) {
	url := externalServer(t)
	open := func() *NATS {
		cfg := DefaultConfig()
		cfg.URL = url
		b, err := Open(context.Background(), cfg, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	a, b := open(), open()
	if a.Node() == b.Node() {
		t.Fatal("two nodes with one id")
	}
	ctx := context.Background()
	lot := AuctionLog("show", "lot")
	first, err := a.Append(ctx, lot, []byte("open"), AppendOptions{ExpectLast: Expect(0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(ctx, lot, []byte("stale"), AppendOptions{ExpectLast: Expect(0)}); err == nil {
		t.Fatal("node b appended over node a's record")
	}
	if _, err := b.Append(ctx, lot, []byte("bid"), AppendOptions{ExpectLast: Expect(first.Seq)}); err != nil {
		t.Fatal(err)
	}
	if recs := replayAll(t, a, lot); len(recs) != 2 {
		t.Fatalf("node a reads %d records", len(recs))
	}
	got := make(chan Msg, 1)
	sub, err := a.Subscribe("show", "*", func(m Msg) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	if err := b.Publish("show", "chat.message", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.Node != b.Node() || string(m.Data) != "hi" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event from the other node within 10s")
	}
	// Both nodes set up the streams; the second found them and kept them.
	if _, err := b.Append(ctx, HistoryLog("show"), []byte("m"), AppendOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestExternalUnreachable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.URL = "nats://127.0.0.1:1" // nothing listens on port 1
	if b, err := Open(context.Background(), cfg, zaptest.NewLogger(t)); err == nil {
		_ = b.Close()
		t.Fatal("opened a bus to nothing")
	}
}
