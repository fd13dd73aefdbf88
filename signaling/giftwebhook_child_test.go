package signaling

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/signaling/auth"
)

// The server process of TestGiftWebhookSIGKILL: started with these set, the test binary
// runs an embedded bus on the directory, the gift webhook to the URL and a hub, and
// sends a gift from alice in room "show" for each key read from stdin, writing
// "ack <key>" once the gift is durable. It exits when stdin closes.
const (
	WebhookChildDirEnv = "GLINT_SIGNALING_WEBHOOK_CHILD_DIR"
	WebhookChildURLEnv = "GLINT_SIGNALING_WEBHOOK_CHILD_URL"
)

func runWebhookChild(dir, url string) int {
	cfg := bus.DefaultConfig()
	cfg.DataDir = dir
	b, err := bus.Open(context.Background(), cfg, zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: bus:", err)
		return 1
	}
	defer b.Close()
	opts := GiftWebhookOptions{Timeout: 2 * time.Second,
		Retry: bus.ConsumeOptions{RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, AckWait: 2 * time.Second}}
	w, err := NewGiftWebhook(b, []string{url}, "APIhost", "host-secret", opts, zap.NewNop())
	if err == nil {
		err = w.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: webhook:", err)
		return 1
	}
	defer w.Close()
	h, err := datachannel.NewHub(datachannel.DefaultConfig(), b, datachannel.Options{}, zap.NewNop())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: hub:", err)
		return 1
	}
	defer h.Close()
	out := &childOut{w: bufio.NewWriter(os.Stdout)}
	conn, err := h.Join("show", &auth.Claims{Identity: "alice", Room: "show", RoomJoin: true, CanPublishData: true}, out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: join:", err)
		return 1
	}
	defer conn.Close()
	out.line("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		p, _ := json.Marshal(map[string]any{"key": in.Text(), "gift": "rose", "amount": 500, "currency": "EUR"})
		env, _ := json.Marshal(datachannel.Envelope{V: 1, Type: datachannel.TypeGiftSend, ID: in.Text(), Payload: p})
		_ = conn.Receive(env)
	}
	return 0
}

// childOut is the child's transport: it reports acks on stdout.
type childOut struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (o *childOut) line(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.w.WriteString(s + "\n")
	_ = o.w.Flush()
}

func (o *childOut) Write(msg []byte) error {
	var env datachannel.Envelope
	if json.Unmarshal(msg, &env) == nil && env.Type == datachannel.TypeAck {
		o.line("ack " + env.ID)
	}
	return nil
}

func (o *childOut) Close() error { return nil }
