package main

import (
	"context"
	"testing"
	"time"

	"github.com/glintlive/glint/loadtest"
)

// TestLoadtestChatAgainstGlint runs `glint loadtest chat`'s engine against a real server
// with viewers on both transports: every acked message reaches every viewer, none refused.
func TestLoadtestChatAgainstGlint(t *testing.T) {
	cfg := testConfig(t)
	a, stop := startApp(t, cfg)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rep, err := loadtest.Chat(ctx, loadtest.ChatConfig{Server: a.URL(), Room: "chatload", APIKey: devKey, APISecret: devSecret,
		Viewers: 12, DataChannels: 3, Rate: 6, PerSender: 0.8, Duration: 3 * time.Second, JoinConcurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *rep)
	switch {
	case rep.Sent < 12 || rep.Acked != rep.Sent || rep.Refused != 0:
		t.Fatalf("sent %d, acked %d, refused %d", rep.Sent, rep.Acked, rep.Refused)
	case rep.Delivered != rep.Expected || rep.Missed != 0:
		t.Fatalf("delivered %d of %d (missed %d)", rep.Delivered, rep.Expected, rep.Missed)
	}
}
