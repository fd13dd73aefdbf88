package signaling_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/gift"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling"
	glintauth "github.com/glintlive/glint/signaling/auth"
)

const hookKey, hookSecret = "APIhost", "host-secret"

// fastRetry keeps the webhook's back-off short enough for tests.
var fastRetry = signaling.GiftWebhookOptions{Timeout: 2 * time.Second,
	Retry: bus.ConsumeOptions{RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, AckWait: 2 * time.Second}}

// hookBackend is the host's backend. It checks every webhook with LiveKit's own
// receiver (signature included) and answers the n-th request, from 1, with status(n).
type hookBackend struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	status   func(n int) int
	attempts []hookAttempt
	changed  chan struct{}
}

type hookAttempt struct {
	ev     *livekit.WebhookEvent
	gift   gift.Gift
	status int
}

func newHookBackend(t *testing.T, status func(int) int) *hookBackend {
	b := &hookBackend{t: t, status: status, changed: make(chan struct{})}
	keys := auth.NewSimpleKeyProvider(hookKey, hookSecret)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != webhook.ContentType {
			t.Errorf("content type %q", ct)
		}
		ev, err := webhook.ReceiveWebhookEvent(r, keys)
		if err != nil {
			t.Errorf("webhook does not verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var g gift.Gift
		if err := json.Unmarshal([]byte(ev.Participant.GetMetadata()), &g); err != nil {
			t.Errorf("gift in metadata: %v", err)
		}
		b.mu.Lock()
		st := b.status(len(b.attempts) + 1)
		b.attempts = append(b.attempts, hookAttempt{ev: ev, gift: g, status: st})
		close(b.changed)
		b.changed = make(chan struct{})
		b.mu.Unlock()
		w.WriteHeader(st)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *hookBackend) setStatus(f func(int) int) {
	b.mu.Lock()
	b.status = f
	b.mu.Unlock()
}

func (b *hookBackend) all() []hookAttempt {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]hookAttempt(nil), b.attempts...)
}

// accepted counts, per event id, the deliveries the backend answered with 2xx.
func (b *hookBackend) accepted() map[string]int {
	n := map[string]int{}
	for _, a := range b.all() {
		if a.status/100 == 2 {
			n[a.ev.Id]++
		}
	}
	return n
}

// waitUntil waits up to within for ok to hold over the attempts so far.
func (b *hookBackend) waitUntil(within time.Duration, what string, ok func([]hookAttempt) bool) {
	b.t.Helper()
	deadline := time.After(within)
	for {
		b.mu.Lock()
		changed := b.changed
		b.mu.Unlock()
		if ok(b.all()) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			b.t.Fatalf("%s: not within %v; attempts %v", what, within, b.summary())
		}
	}
}

// waitAccepted waits until every id was accepted at least once.
func (b *hookBackend) waitAccepted(within time.Duration, ids []string) {
	b.t.Helper()
	b.waitUntil(within, fmt.Sprint("all of ", len(ids), " gifts accepted"), func([]hookAttempt) bool {
		got := b.accepted()
		for _, id := range ids {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
}

func (b *hookBackend) summary() []string {
	var out []string
	for _, a := range b.all() {
		out = append(out, fmt.Sprintf("%s/%s:%d", a.ev.Room.GetName(), a.gift.Key, a.status))
	}
	return out
}

func openBus(t *testing.T, dir, url string) *bus.NATS {
	t.Helper()
	cfg := bus.DefaultConfig()
	cfg.DataDir, cfg.URL = dir, url
	b, err := bus.Open(context.Background(), cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func startWebhook(t *testing.T, b bus.Bus, url string, opts signaling.GiftWebhookOptions) *signaling.GiftWebhook {
	t.Helper()
	w, err := signaling.NewGiftWebhook(b, []string{url}, hookKey, hookSecret, opts, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

func newHub(t *testing.T, b bus.Bus) *datachannel.Hub {
	t.Helper()
	h, err := datachannel.NewHub(datachannel.DefaultConfig(), b, datachannel.Options{}, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// giver is a viewer joined to a hub directly (no transport in between) who sends gifts.
type giver struct {
	t        *testing.T
	conn     *datachannel.Conn
	answers  chan datachannel.Envelope
	welcome  sync.Once
	welcomed chan struct{}
}

// joinGiver joins identity to room and returns once the room has taken the connection
// (its welcome came: the room's goroutine handles a join after Join returns).
func joinGiver(t *testing.T, h *datachannel.Hub, room, identity string) *giver {
	t.Helper()
	g := &giver{t: t, answers: make(chan datachannel.Envelope, 100), welcomed: make(chan struct{})}
	cl := &glintauth.Claims{Identity: identity, Room: room, RoomJoin: true, CanSubscribe: true, CanPublishData: true}
	conn, err := h.Join(room, cl, g)
	if err != nil {
		t.Fatal(err)
	}
	g.conn = conn
	t.Cleanup(conn.Close)
	select {
	case <-g.welcomed:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no welcome within 10 s", identity)
	}
	return g
}

// Write implements datachannel.Transport, keeping acks and errors.
func (g *giver) Write(msg []byte) error {
	if bytes.Contains(msg, []byte(`"type":"`+datachannel.TypeWelcome+`"`)) {
		g.welcome.Do(func() { close(g.welcomed) })
	}
	var env datachannel.Envelope
	if json.Unmarshal(msg, &env) == nil && (env.Type == datachannel.TypeAck || env.Type == datachannel.TypeError) {
		select {
		case g.answers <- env:
		default:
		}
	}
	return nil
}

func (g *giver) Close() error { return nil }

// give sends a gift and waits for its ack: from then on it is durable.
func (g *giver) give(key string, amount int64) {
	g.t.Helper()
	p, _ := json.Marshal(map[string]any{"key": key, "gift": "rose", "amount": amount, "currency": "EUR"})
	env, _ := json.Marshal(datachannel.Envelope{V: 1, Type: datachannel.TypeGiftSend, ID: key, Payload: p})
	if err := g.conn.Receive(env); err != nil {
		g.t.Fatal(err)
	}
	select {
	case a := <-g.answers:
		if a.Type != datachannel.TypeAck || a.ID != key {
			g.t.Fatalf("gift %s: %s %s %s", key, a.Type, a.ID, a.Payload)
		}
	case <-time.After(10 * time.Second):
		g.t.Fatalf("gift %s: no ack within 10s", key)
	}
}
