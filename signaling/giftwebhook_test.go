package signaling_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling"
)

func eventIDs(room, from string, keys ...string) []string {
	var ids []string
	for _, k := range keys {
		ids = append(ids, signaling.GiftEventID(room, from, k))
	}
	return ids
}

// TestGiftWebhookRetries: a backend that answers 500 to the first attempts gets every
// gift in the end, each verified by LiveKit's receiver, in log order, the failed one
// again; none is lost and none accepted twice.
func TestGiftWebhookRetries(t *testing.T) {
	backend := newHookBackend(t, func(n int) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	b := openBus(t, t.TempDir(), "")
	w := startWebhook(t, b, backend.srv.URL, fastRetry)
	alice := joinGiver(t, newHub(t, b), "show", "alice")
	keys := []string{"k1", "k2", "k3", "k4"}
	for i, k := range keys {
		alice.give(k, int64(100*(i+1)))
	}
	alice.give("k1", 100) // a client's retry: one gift, one webhook
	ids := eventIDs("show", "alice", keys...)
	backend.waitAccepted(10*time.Second, ids)

	all := backend.all()
	for i, a := range all[:3] {
		if a.ev.Id != ids[0] || a.status != 500 {
			t.Fatalf("attempt %d: %s %d, want k1 refused", i+1, a.gift.Key, a.status)
		}
	}
	var order []string
	for _, a := range all[3:] {
		order = append(order, a.gift.Key)
		if a.ev.Event != signaling.EventGiftReceived || a.ev.Room.GetName() != "show" || a.ev.Participant.GetIdentity() != "alice" ||
			a.gift.From != "alice" || a.gift.Currency != "EUR" || a.ev.Participant.GetAttributes()["currency"] != "EUR" ||
			a.ev.CreatedAt == 0 {
			t.Fatalf("event %v, gift %+v", a.ev, a.gift)
		}
	}
	if got := strings.Join(order, ","); got != "k1,k2,k3,k4" {
		t.Fatalf("accepted in order %s", got)
	}
	time.Sleep(200 * time.Millisecond)
	for id, n := range backend.accepted() {
		if n != 1 {
			t.Fatalf("event %s accepted %d times", id, n)
		}
	}
	// The metrics say so too: three refusals, redeliveries, and nothing pending.
	reg := prometheus.NewRegistry()
	reg.MustRegister(w)
	reg.MustRegister(signaling.Collectors()...)
	m := gather(t, reg)
	if m["glint_gift_webhook_pending"] != 0 || m["glint_gift_webhook_deliveries_total/rejected"] < 3 ||
		m["glint_gift_webhook_deliveries_total/ok"] < 4 || m["glint_gift_webhook_redeliveries_total"] < 3 {
		t.Fatalf("metrics %v", m)
	}
}

// TestGiftWebhookSurvivesRestart: gifts acked while the backend is down are delivered
// after the server (hub, webhook and bus) is closed and opened again on the same data
// directory, once the backend is back.
func TestGiftWebhookSurvivesRestart(t *testing.T) {
	backend := newHookBackend(t, func(int) int { return http.StatusServiceUnavailable })
	dir := t.TempDir()
	func() {
		b, err := bus.Open(context.Background(), busConfig(dir), sfutest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		w, err := signaling.NewGiftWebhook(b, []string{backend.srv.URL}, hookKey, hookSecret, fastRetry, sfutest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		h := newHub(t, b)
		defer h.Close()
		alice := joinGiver(t, h, "show", "alice")
		for _, k := range []string{"a", "b", "c"} {
			alice.give(k, 500)
		}
		backend.waitUntil(10*time.Second, "two refused attempts", func(a []hookAttempt) bool { return len(a) >= 2 })
	}()
	if n := len(backend.accepted()); n != 0 {
		t.Fatalf("%d gifts accepted by a backend that is down", n)
	}
	backend.setStatus(func(int) int { return http.StatusNoContent })
	b := openBus(t, dir, "")
	startWebhook(t, b, backend.srv.URL, fastRetry)
	backend.waitAccepted(20*time.Second, eventIDs("show", "alice", "a", "b", "c"))
}

func busConfig(dir string) bus.Config {
	cfg := bus.DefaultConfig()
	cfg.DataDir = dir
	return cfg
}

// TestGiftWebhookTwoNodes: two nodes on one NATS, each with the webhook to the same
// URL, each taking gifts: every gift is delivered once, not once per node.
func TestGiftWebhookTwoNodes(t *testing.T) {
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
	backend := newHookBackend(t, func(int) int { return http.StatusOK })
	var givers []*giver
	for node := 0; node < 2; node++ {
		b := openBus(t, "", srv.ClientURL())
		startWebhook(t, b, backend.srv.URL, fastRetry)
		givers = append(givers, joinGiver(t, newHub(t, b), "show", fmt.Sprint("viewer", node)))
	}
	var ids []string
	for i := 0; i < 10; i++ {
		g := givers[i%2]
		key := fmt.Sprint("k", i)
		g.give(key, 100)
		ids = append(ids, eventIDs("show", fmt.Sprint("viewer", i%2), key)...)
	}
	backend.waitAccepted(10*time.Second, ids)
	time.Sleep(300 * time.Millisecond) // a second node's copy would have arrived by now
	if got := len(backend.all()); got != len(ids) {
		t.Fatalf("%d deliveries of %d gifts: %v", got, len(ids), backend.summary())
	}
}

func TestGiftWebhookConfig(t *testing.T) {
	b := bus.NewMemory()
	if _, err := signaling.NewGiftWebhook(b, []string{"ftp://x"}, "k", "s", signaling.GiftWebhookOptions{}, sfutest.Logger()); err == nil {
		t.Error("ftp URL accepted")
	}
	if _, err := signaling.NewGiftWebhook(b, []string{"https://x"}, "", "", signaling.GiftWebhookOptions{}, sfutest.Logger()); err == nil {
		t.Error("no signing key accepted")
	}
	w, err := signaling.NewGiftWebhook(b, []string{"https://x"}, "k", "s", signaling.GiftWebhookOptions{}, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	w.Close() // idempotent
	if err := w.Start(context.Background()); err == nil {
		t.Error("started after Close")
	}
}

// gather sums each metric over its series, and the deliveries by result too
// ("name/result"), since the webhook label is a hash.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			out[mf.GetName()] += v
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					out[mf.GetName()+"/"+l.GetValue()] += v
				}
			}
		}
	}
	return out
}
