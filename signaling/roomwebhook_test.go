package signaling_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

// hookReceiver is a backend that verifies every webhook with LiveKit's own receiver and
// answers status.
type hookReceiver struct {
	srv    *httptest.Server
	status int
	mu     sync.Mutex
	events []*livekit.WebhookEvent
	bad    []string
	tries  int
}

func newHookReceiver(t *testing.T, status int) *hookReceiver {
	h := &hookReceiver{status: status}
	keys := lkauth.NewSimpleKeyProvider(testKey, testSecret)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := webhook.ReceiveWebhookEvent(r, keys)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.tries++
		if err != nil {
			h.bad = append(h.bad, err.Error())
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if h.status == http.StatusOK {
			h.events = append(h.events, ev)
		}
		w.WriteHeader(h.status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range h.events {
		who := ""
		if ev.Participant != nil {
			who = ":" + ev.Participant.Identity
		}
		if ev.Track != nil {
			who += ":" + ev.Track.Type.String()
		}
		out = append(out, ev.Event+who)
	}
	return out
}

// wire connects a room webhook to the test server's SFU and signaling, as app.go does.
func wire(t *testing.T, e *env, urls []string, opts signaling.RoomWebhookOptions) {
	w, err := signaling.NewRoomWebhook(urls, testKey, testSecret, opts, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	e.sig.SetRoomWebhook(w)
	e.sfu.OnEvent(func(ev sfu.Event) { w.SFUEvent(ev, e.sig.HostIdentity(ev.Room)) })
}

// TestRoomWebhooks: a real session (a pion host over WHIP, a pion viewer over WHEP, both
// leaving, the room closing) makes each of LiveKit's six room events, each verified by
// LiveKit's webhook receiver, in an order a backend can rely on: the room starts first and
// finishes last, a participant joins before it leaves.
func TestRoomWebhooks(t *testing.T) {
	e := newEnv(t, func(sc *sfuConfig, _ *sigConfig) { sc.EmptyRoomTimeout = 100 * time.Millisecond })
	hook := newHookReceiver(t, http.StatusOK)
	wire(t, e, []string{hook.srv.URL}, signaling.RoomWebhookOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	pub, err := sfutest.NewPublisher(ctx, e.signal("/whip/show", e.token("show", auth.TokenOptions{Identity: "host", Publish: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := sfutest.NewViewer(ctx, e.signal("/whep/show", e.token("show", auth.TokenOptions{Identity: "v1", Subscribe: true}), nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.SendFrames(ctx, 0, 10, 30, 30); err != nil {
		t.Fatal(err)
	}
	if err := viewer.WaitFrame(ctx, 5); err != nil {
		t.Fatal(err)
	}
	res, _ := e.do(http.MethodDelete, "/rooms/show", e.token("show", auth.TokenOptions{Identity: "mod", Admin: true}), "", "")
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("ending the room: %s", res.Status)
	}
	_ = viewer.Close()
	_ = pub.Close()

	want := []string{"room_started", "participant_joined:host", "track_published:host:VIDEO", "track_published:host:AUDIO",
		"participant_joined:v1", "track_unpublished", "participant_left:host", "participant_left:v1", "room_finished"}
	deadline := time.Now().Add(10 * time.Second)
	for !hasAll(hook.names(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("webhooks received %v; want each of %v", hook.names(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := hook.names()
	t.Logf("webhooks, in order: %v", got)
	if got[0] != "room_started" || got[len(got)-1] != "room_finished" {
		t.Errorf("order %v: want room_started first and room_finished last", got)
	}
	for _, who := range []string{"host", "v1"} {
		if slices.Index(got, "participant_joined:"+who) > slices.Index(got, "participant_left:"+who) {
			t.Errorf("order %v: %s left before it joined", got, who)
		}
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.bad) > 0 {
		t.Errorf("webhooks LiveKit's receiver refused: %v", hook.bad)
	}
	for _, ev := range hook.events {
		if ev.Id == "" || ev.CreatedAt == 0 || ev.Room.GetName() != "show" {
			t.Errorf("event %s: id %q, createdAt %d, room %q", ev.Event, ev.Id, ev.CreatedAt, ev.Room.GetName())
		}
	}
}

// hasAll reports whether every want is in got; a want with no identity part (a track
// event of a host whose session has gone) matches any event of that name.
func hasAll(got, want []string) bool {
	for _, w := range want {
		found := false
		for _, g := range got {
			if g == w || (len(g) > len(w) && g[:len(w)] == w && g[len(w)] == ':') {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// TestRoomWebhookDeadLetter: a backend that answers 500 to everything gets each event
// roomWebhookAttempts (6) times and no more; a healthy backend beside it gets every event
// at once.
func TestRoomWebhookDeadLetter(t *testing.T) {
	e := newEnv(t, nil)
	dead, healthy := newHookReceiver(t, http.StatusInternalServerError), newHookReceiver(t, http.StatusOK)
	wire(t, e, []string{dead.srv.URL, healthy.srv.URL}, signaling.RoomWebhookOptions{Backoff: time.Millisecond})
	if _, err := e.sfu.Join("lonely", sfu.RoleViewer); err != nil { // room_started, and nothing else
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		dead.mu.Lock()
		tries := dead.tries
		dead.mu.Unlock()
		if tries >= 6 && len(healthy.names()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing backend was tried %d times, the healthy one got %v", tries, healthy.names())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // long enough for a seventh try at 1 ms back-off doubling
	dead.mu.Lock()
	defer dead.mu.Unlock()
	if dead.tries != 6 {
		t.Errorf("the failing backend was tried %d times; want 6, then the event dead-lettered", dead.tries)
	}
}
