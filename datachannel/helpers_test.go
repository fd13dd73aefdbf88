package datachannel

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/signaling/auth"
)

// fakeTransport records what the hub writes. With gate set, Write blocks until the gate
// is opened, which makes a slow reader.
type fakeTransport struct {
	msgs chan []byte
	gate chan struct{}

	mu     sync.Mutex
	closed bool
}

func newFake(gated bool) *fakeTransport {
	f := &fakeTransport{msgs: make(chan []byte, 100000)}
	if gated {
		f.gate = make(chan struct{})
	}
	return f
}

func (f *fakeTransport) Write(b []byte) error {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errors.New("closed")
	}
	f.msgs <- append([]byte(nil), b...)
	return nil
}

func (f *fakeTransport) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.gate != nil {
		select {
		case <-f.gate:
		default:
			close(f.gate)
		}
	}
	return nil
}

func (f *fakeTransport) open() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.gate:
	default:
		close(f.gate)
	}
}

// client is a test participant: a Conn and its fake transport.
type client struct {
	t       *testing.T
	conn    *Conn
	tr      *fakeTransport
	backlog []*Envelope
}

const room1 = "show"

func claims(identity string, data, admin bool) *auth.Claims {
	return &auth.Claims{Identity: identity, Room: room1, RoomJoin: true, CanSubscribe: true, CanPublishData: data, RoomAdmin: admin}
}

type hubOpts struct {
	cfg  func(*Config)
	bus  bus.Bus
	opts Options
}

func newTestHub(t *testing.T, o hubOpts) *Hub {
	t.Helper()
	cfg := DefaultConfig()
	cfg.TallyInterval = 20 * time.Millisecond
	cfg.PresenceInterval = 20 * time.Millisecond
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	b := o.bus
	if b == nil {
		b = bus.NewMemory()
	}
	if o.opts.Clocks == nil {
		o.opts.Clocks = func(string) MediaClock {
			return MediaClockFunc(func() (int64, bool) { return 1_700_000_000_000, true })
		}
	}
	h, err := NewHub(cfg, b, o.opts, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func join(t *testing.T, h *Hub, c *auth.Claims) *client {
	t.Helper()
	return joinWith(t, h, c, newFake(false))
}

func joinWith(t *testing.T, h *Hub, c *auth.Claims, tr *fakeTransport) *client {
	t.Helper()
	conn, err := h.Join(room1, c, tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	cl := &client{t: t, conn: conn, tr: tr}
	if tr.gate == nil {
		cl.next(TypeWelcome)
	}
	return cl
}

// send encodes and receives one client message.
func (c *client) send(typ, id string, payload any) {
	c.t.Helper()
	env := &Envelope{V: Version, Type: typ, ID: id}
	if payload != nil {
		env.Payload = mustPayload(payload)
	}
	b, _ := json.Marshal(env)
	c.raw(b)
}

func (c *client) sendEnv(env *Envelope) {
	c.t.Helper()
	env.V = Version
	b, _ := json.Marshal(env)
	c.raw(b)
}

func (c *client) raw(b []byte) {
	c.t.Helper()
	if err := c.conn.Receive(b); err != nil {
		c.t.Fatal(err)
	}
}

// take returns the first message, received or yet to come, that ok accepts, and removes
// it from the backlog; messages it passes over stay for later calls. The 10 s bound only
// keeps a broken test from hanging; nothing here measures speed.
func (c *client) take(what string, ok func(*Envelope) bool) *Envelope {
	c.t.Helper()
	for i, env := range c.backlog {
		if ok(env) {
			c.backlog = append(c.backlog[:i], c.backlog[i+1:]...)
			return env
		}
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case b := <-c.tr.msgs:
			var env Envelope
			if err := json.Unmarshal(b, &env); err != nil {
				c.t.Fatalf("server sent bad JSON %q: %v", b, err)
			}
			if ok(&env) {
				return &env
			}
			c.backlog = append(c.backlog, &env)
		case <-deadline:
			c.t.Fatalf("%s: nothing within 10s", what)
			return nil
		}
	}
}

// next returns the next message of type typ.
func (c *client) next(typ string) *Envelope {
	c.t.Helper()
	return c.take(typ, func(e *Envelope) bool { return e.Type == typ })
}

// nextWhere returns the next message of type typ whose payload satisfies ok.
func (c *client) nextWhere(typ string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	env := c.take(typ, func(e *Envelope) bool { return e.Type == typ && ok(payloadOf(c.t, e)) })
	return payloadOf(c.t, env)
}

// reply waits for the ack or error answering id.
func (c *client) reply(id string) *Envelope {
	c.t.Helper()
	return c.take("answer to "+id, func(e *Envelope) bool { return (e.Type == TypeAck || e.Type == TypeError) && e.ID == id })
}

func (c *client) wantAck(id string) map[string]any {
	c.t.Helper()
	env := c.reply(id)
	if env.Type != TypeAck {
		c.t.Fatalf("%s: got %s %s, want an ack", id, env.Type, env.Payload)
	}
	return payloadOf(c.t, env)
}

func (c *client) wantError(id, code string) {
	c.t.Helper()
	env := c.reply(id)
	var p ErrorPayload
	_ = json.Unmarshal(env.Payload, &p)
	if env.Type != TypeError || p.Code != code {
		c.t.Fatalf("%s: got %s %s, want error %s", id, env.Type, env.Payload, code)
	}
}

// drain returns the backlog and whatever has arrived, without waiting.
func (c *client) drain() []*Envelope {
	out := c.backlog
	c.backlog = nil
	for {
		select {
		case b := <-c.tr.msgs:
			var env Envelope
			_ = json.Unmarshal(b, &env)
			out = append(out, &env)
		default:
			return out
		}
	}
}

func payloadOf(t *testing.T, env *Envelope) map[string]any {
	t.Helper()
	var m map[string]any
	if len(env.Payload) > 0 {
		if err := json.Unmarshal(env.Payload, &m); err != nil {
			t.Fatalf("payload %s: %v", env.Payload, err)
		}
	}
	return m
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}
