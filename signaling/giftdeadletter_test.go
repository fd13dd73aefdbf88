package signaling_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glintlive/glint/signaling"
	"github.com/glintlive/glint/signaling/auth"
)

// undeliveredPage is GET /rooms/{room}/gifts/undelivered's answer.
type undeliveredPage struct {
	Room        string `json:"room"`
	Undelivered []struct {
		Entry    uint64 `json:"entry"`
		Seq      uint64 `json:"seq"`
		EventID  string `json:"eventId"`
		Webhook  string `json:"webhook"`
		Attempts int    `json:"attempts"`
		Status   int    `json:"status"`
		Error    string `json:"error"`
		Gift     struct {
			Key  string `json:"key"`
			From string `json:"from"`
		} `json:"gift"`
	} `json:"undelivered"`
	Next uint64 `json:"next"`
	More bool   `json:"more"`
}

// TestGiftWebhookGivesUp: a gift the backend refuses (400) GiveUp.Refusals times no
// longer holds back the ones after it: it is given up on, listed with why in the room's
// undelivered gifts (roomAdmin only) and counted; the later gifts are delivered. A
// backend that is down (503) has a gift given up on once it is GiveUp.After old.
func TestGiftWebhookGivesUp(t *testing.T) {
	for _, c := range []struct {
		name     string
		status   func(n int) int // the backend's answer to its n-th request
		giveUp   signaling.GiftGiveUp
		want     int // the status listed
		attempts func(n int) bool
	}{
		{"refused", func(n int) int {
			if n <= 3 {
				return http.StatusBadRequest
			}
			return http.StatusOK
		}, signaling.GiftGiveUp{Refusals: 3, After: time.Hour}, http.StatusBadRequest, func(n int) bool { return n == 3 }},
		{"down", func(n int) int {
			if n <= 1 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}, signaling.GiftGiveUp{Refusals: 3, After: time.Millisecond}, http.StatusServiceUnavailable, func(n int) bool { return n == 1 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			deadBefore := deadLetters(t)
			e := newEnv(t, nil)
			backend := newHookBackend(t, c.status)
			b := openBus(t, t.TempDir(), "")
			opts := fastRetry
			opts.GiveUp = c.giveUp
			w := startWebhook(t, b, backend.srv.URL, opts)
			hub := newHub(t, b)
			e.sig.EnableInteraction(hub)
			alice := joinGiver(t, hub, "show", "alice")
			for i, k := range []string{"k1", "k2", "k3"} {
				alice.give(k, int64(100*(i+1)))
			}
			backend.waitAccepted(10*time.Second, eventIDs("show", "alice", "k2", "k3"))
			k1 := signaling.GiftEventID("show", "alice", "k1")
			if n := backend.accepted()[k1]; n != 0 {
				t.Fatalf("k1 accepted %d times", n)
			}

			get := func(token string) (int, string) {
				res, body := e.do(http.MethodGet, "/rooms/show/gifts/undelivered", token, "", "")
				return res.StatusCode, body
			}
			if code, body := get(e.token("show", auth.TokenOptions{Identity: "alice", Subscribe: true, Data: true})); code != http.StatusForbidden {
				t.Fatalf("a viewer read the undelivered gifts: %d %s", code, body)
			}
			code, body := get(e.token("show", auth.TokenOptions{Identity: "backend", Admin: true}))
			var p undeliveredPage
			if code != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil || len(p.Undelivered) != 1 {
				t.Fatalf("undelivered gifts: %d %s; want k1 alone", code, body)
			}
			u := p.Undelivered[0]
			if u.Gift.Key != "k1" || u.Gift.From != "alice" || u.EventID != k1 || u.Status != c.want || !c.attempts(u.Attempts) ||
				!strings.HasPrefix(u.Webhook, "glint-gift-webhook-") || u.Error == "" || u.Seq == 0 || p.Next != u.Entry || p.More {
				t.Fatalf("undelivered gift %+v (page %+v)", u, p)
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(w)
			if m := gather(t, reg); m["glint_gift_webhook_pending"] != 0 {
				t.Fatalf("metrics %v", m)
			}
			if n := deadLetters(t) - deadBefore; n != 1 {
				t.Fatalf("%v gifts counted as given up on; want 1", n)
			}
		})
	}
}

// deadLetters is glint_gift_webhook_dead_letters_total now, every webhook summed (the
// counter is the process's: tests compare before and after).
func deadLetters(t *testing.T) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(signaling.Collectors()...)
	return gather(t, reg)["glint_gift_webhook_dead_letters_total"]
}
