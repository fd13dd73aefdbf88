package signaling

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel"
	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/gift"
)

// GiftWebhookOptions tune the gift webhook; the zero value takes the defaults.
type GiftWebhookOptions struct {
	// Timeout bounds one POST, answer included. Default 10s.
	Timeout time.Duration
	// Retry is the back-off between attempts at one gift (bus defaults: 1s doubling to
	// 1m) and how long a node may hold a gift before another node takes it over.
	Retry bus.ConsumeOptions
	// GiveUp says when the webhook gives up on one gift; zero fields take the defaults.
	GiveUp GiftGiveUp
}

// GiftGiveUp says when a gift webhook gives up on one gift, so that it holds back the
// later ones no more; the gift then goes to its room's undelivered gift log.
type GiftGiveUp struct {
	// Refusals is how many times in a row the backend may refuse one gift (a 4xx answer
	// but 401, 403, 404, 408 and 429, which say the backend or the webhook is not ready,
	// not that this gift is bad). Default 5.
	Refusals int `yaml:"refusals"`
	// After is how long after it was given a gift the backend has not taken (down, 5xx
	// answers, timeouts) is given up on. Default 24h; shorter than the bus's log_max_age.
	After time.Duration `yaml:"after"`
}

// DefaultGiftGiveUp is when a gift webhook gives up on a gift unless told otherwise.
func DefaultGiftGiveUp() GiftGiveUp { return GiftGiveUp{Refusals: 5, After: 24 * time.Hour} }

// Validate checks g against the bus's logMaxAge, past which a gift is gone anyway.
func (g GiftGiveUp) Validate(logMaxAge time.Duration) error {
	if g.Refusals < 1 || g.Refusals > 1000 {
		return fmt.Errorf("gift_webhook_give_up.refusals must be 1 to 1000, got %d", g.Refusals)
	}
	if g.After < time.Minute || (logMaxAge > 0 && g.After >= logMaxAge) {
		return fmt.Errorf("gift_webhook_give_up.after must be 1m or more and under bus.log_max_age (%s), got %s", logMaxAge, g.After)
	}
	return nil
}

// DefaultWebhookTimeout bounds one webhook POST.
const DefaultWebhookTimeout = 10 * time.Second

// GiftWebhook POSTs every gift to the host's backend as a LiveKit webhook: a
// WebhookEvent signed with the API key and secret, which the backend checks with
// LiveKit's webhook.ReceiveWebhookEvent as for any LiveKit event (see giftEvent for
// where the gift is in it).
//
// Delivery is driven by the gift log on the bus, not by the room: each URL has its own
// durable consumer (bus.Consume), so a gift is delivered at least once even if the
// server restarts or crashes before it went out, or the backend is down for a long time
// (it is retried with back-off, never dropped, until the log's max age). Gifts reach
// one URL in log order, one at a time: a backend that keeps failing one holds back the
// ones after it, and a dead backend holds back no other URL. Nodes sharing the bus share
// the consumers, so each gift is sent once per URL in the normal case, not once per
// node. A gift may be sent again (a timeout whose answer was lost, a node dying between
// the backend's 2xx and the acknowledgement): the event id is stable per gift, and the
// backend deduplicates by it.
//
// A gift the backend keeps refusing (GiveUp.Refusals 4xx answers), or has not taken
// GiveUp.After after it was given, is given up on so that it holds back the later ones no longer: it
// goes to the room's undelivered gift log (bus.UndeliveredGiftLog, as durable as the gift
// log; GET /rooms/{room}/gifts/undelivered lists it), logged at ERROR and counted in
// glint_gift_webhook_dead_letters_total. It is never dropped without that record.
type GiftWebhook struct {
	bus     bus.Bus
	opts    GiftWebhookOptions
	targets []*webhookTarget
	log     *zap.Logger
	ctx     context.Context // cancelled by Close: ends POSTs in flight
	cancel  context.CancelFunc

	mu        sync.Mutex
	consumers map[*webhookTarget]bus.Consumer
	closed    bool
}

var _ prometheus.Collector = (*GiftWebhook)(nil)

// webhookTarget is one backend URL.
type webhookTarget struct {
	url       string
	name      string // the durable consumer's name and the metrics label
	apiKey    string
	apiSecret string
	client    *http.Client
	transport *http.Transport
	log       *zap.Logger
	warn      warnLimiter

	// The refusals in a row of the gift in delivery (givingUp): one consumer delivers
	// a URL's gifts one at a time.
	refusedLog bus.Log
	refusedSeq uint64
	refusals   int
}

// webhookDurable names a URL's durable consumer after a hash of it: stable across
// restarts and nodes, and without the URL's credentials.
func webhookDurable(u string) string {
	sum := sha256.Sum256([]byte(u))
	return "glint-gift-webhook-" + hex.EncodeToString(sum[:8])
}

// NewGiftWebhook prepares delivery to every URL in urls over b, signed with
// apiKey/apiSecret. Start begins it.
func NewGiftWebhook(b bus.Bus, urls []string, apiKey, apiSecret string, opts GiftWebhookOptions, log *zap.Logger) (*GiftWebhook, error) {
	if apiKey == "" || apiSecret == "" {
		return nil, fmt.Errorf("signaling: the gift webhook needs an API key and secret to sign with")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultWebhookTimeout
	}
	def := DefaultGiftGiveUp()
	if opts.GiveUp.Refusals <= 0 {
		opts.GiveUp.Refusals = def.Refusals
	}
	if opts.GiveUp.After <= 0 {
		opts.GiveUp.After = def.After
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &GiftWebhook{bus: b, opts: opts, log: log.Named("giftwebhook"), ctx: ctx, cancel: cancel,
		consumers: map[*webhookTarget]bus.Consumer{}}
	targets, err := webhookTargets(urls, apiKey, apiSecret, "gift webhook", w.log)
	if err != nil {
		cancel()
		return nil, err
	}
	w.targets = targets
	return w, nil
}

// webhookTargets checks urls and makes a target of each, once: a repeated URL would only
// get every event twice (and for gifts share its consumer anyway).
func webhookTargets(urls []string, apiKey, apiSecret, what string, log *zap.Logger) ([]*webhookTarget, error) {
	var targets []*webhookTarget
	seen := map[string]bool{}
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("signaling: webhook url %q is not an http(s) URL", u)
		}
		if !seen[u] {
			seen[u] = true
			targets = append(targets, newWebhookTarget(u, p.Host, apiKey, apiSecret, what, log))
		}
	}
	return targets, nil
}

// newWebhookTarget is a backend URL (host: its host, for logs) to POST signed events to.
func newWebhookTarget(u, host, apiKey, apiSecret, what string, log *zap.Logger) *webhookTarget {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	name := webhookDurable(u)
	return &webhookTarget{url: u, name: name, apiKey: apiKey, apiSecret: apiSecret, transport: tr,
		// A webhook is answered, not redirected: following a 301/302 would turn the
		// POST into a GET without the event and report success.
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		log:    log.With(zap.String("webhook", name), zap.String("host", host)),
		warn:   warnLimiter{what: what}}
}

// Start creates (or finds) each URL's durable consumer and begins delivering. Gifts
// appended before a URL's consumer first existed are not sent to it (they are in the
// reconcile endpoint); after that, none is missed.
func (w *GiftWebhook) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return bus.ErrClosed
	}
	for _, t := range w.targets {
		if w.consumers[t] != nil {
			continue
		}
		c, err := w.bus.Consume(ctx, bus.GiftLogs(), t.name, w.opts.Retry, func(rec bus.Record) error { return w.deliver(t, rec) })
		if err != nil {
			return fmt.Errorf("signaling: gift webhook %s: %w", t.name, err)
		}
		w.consumers[t] = c
		t.log.Info("gift webhook delivering")
	}
	return nil
}

// Close ends POSTs in flight (their gifts are delivered again later, by this node after
// a restart or by another) and stops the consumers. Idempotent.
func (w *GiftWebhook) Close() {
	w.mu.Lock()
	w.closed = true
	consumers := w.consumers
	w.consumers = map[*webhookTarget]bus.Consumer{}
	w.mu.Unlock()
	w.cancel()
	for _, c := range consumers {
		c.Stop()
	}
	for _, t := range w.targets {
		t.transport.CloseIdleConnections()
	}
}

// deliver POSTs one gift record to t. nil acknowledges the record; an error has the bus
// deliver it again after the back-off.
func (w *GiftWebhook) deliver(t *webhookTarget, rec bus.Record) error {
	room := rec.Log.Room()
	var g gift.Gift
	if err := json.Unmarshal(rec.Data, &g); err != nil || room == "" || g.From == "" || g.Key == "" {
		// Not a gift this server wrote. Holding it would hold back every gift after it.
		t.log.Error("skipping a gift log record that is not a gift", zap.String("log", string(rec.Log)),
			zap.Uint64("seq", rec.Seq), zap.Error(err))
		webhookDeliveries.WithLabelValues(t.name, "undecodable").Inc()
		return nil
	}
	if rec.Delivery > 1 {
		webhookRedeliveries.WithLabelValues(t.name).Inc()
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.opts.Timeout)
	defer cancel()
	status, err := t.post(ctx, room, g)
	if w.ctx.Err() != nil {
		return err // shutting down: not the backend's failure
	}
	result := "ok"
	switch {
	case err == nil:
	case status != 0:
		result = "rejected"
	case errors.Is(err, context.DeadlineExceeded):
		result = "timeout"
	default:
		result = "error"
	}
	webhookDeliveries.WithLabelValues(t.name, result).Inc()
	fields := []zap.Field{zap.String("room", room), zap.Uint64("seq", rec.Seq), zap.Int("attempt", rec.Delivery)}
	if err != nil {
		if w.givingUp(t, rec, status) {
			return w.deadLetter(t, rec, room, g, status, err)
		}
		t.warn.failed(t.log, append(fields, zap.String("result", result), zap.Error(err))...)
		return err
	}
	t.warn.succeeded(t.log, fields...)
	return nil
}

// givingUp reports whether a gift whose delivery just failed with status (0: no answer)
// is given up on: refused GiveUp.Refusals times in a row, or not taken GiveUp.After after
// it was given. Gifts reach a URL one at a time, so the target counts the refusals of the
// one in delivery (a restart counts afresh: more attempts, never fewer).
func (w *GiftWebhook) givingUp(t *webhookTarget, rec bus.Record, status int) bool {
	if !rec.Time.IsZero() && time.Since(rec.Time) >= w.opts.GiveUp.After {
		return true
	}
	switch {
	case status < 400 || status > 499, status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusNotFound, status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		t.refusals = 0 // down, misconfigured or busy: not this gift's fault
		return false
	}
	if t.refusedSeq != rec.Seq || rec.Log != t.refusedLog {
		t.refusedSeq, t.refusedLog, t.refusals = rec.Seq, rec.Log, 0
	}
	t.refusals++
	return t.refusals >= w.opts.GiveUp.Refusals
}

// deadLetter records a gift given up on in its room's undelivered gift log and
// acknowledges it, so the gifts after it go on; if the record cannot be written the gift
// stays where it is (failed, err), to be tried again.
func (w *GiftWebhook) deadLetter(t *webhookTarget, rec bus.Record, room string, g gift.Gift, status int, failure error) error {
	data, _ := json.Marshal(datachannel.UndeliveredGift{Seq: rec.Seq, Webhook: t.name, Attempts: rec.Delivery,
		Status: status, Error: failure.Error(), At: time.Now().UTC(), Gift: g})
	ctx, cancel := context.WithTimeout(w.ctx, w.opts.Timeout)
	defer cancel()
	// One record per gift and webhook when this runs again for it within the bus's
	// deduplication window (a node dying between the append and the acknowledgement);
	// the backend deduplicates by event id anyway.
	opt := bus.AppendOptions{MsgID: fmt.Sprintf("%s/%d", t.name, rec.Seq)}
	if _, err := w.bus.Append(ctx, bus.UndeliveredGiftLog(room), data, opt); err != nil {
		t.log.Error("a gift given up on could not be recorded; it is tried again", zap.String("room", room), zap.Uint64("seq", rec.Seq), zap.Error(err))
		return failure
	}
	webhookDeadLetters.WithLabelValues(t.name).Inc()
	t.log.Error("gift given up on: in the room's undelivered gift log (GET /rooms/{room}/gifts/undelivered)",
		zap.String("room", room), zap.Uint64("seq", rec.Seq), zap.Int("attempts", rec.Delivery), zap.Int("status", status),
		zap.String("from", g.From), zap.String("key", g.Key), zap.Error(failure))
	return nil
}

// post sends the gift's signed event and reports the status it got, 0 for none.
func (t *webhookTarget) post(ctx context.Context, room string, g gift.Gift) (int, error) {
	return t.postEvent(ctx, giftEvent(room, g))
}

// postEvent sends ev, signed, and reports the status it got, 0 for none.
func (t *webhookTarget) postEvent(ctx context.Context, ev *livekit.WebhookEvent) (int, error) {
	req, err := webhookRequest(ctx, t.url, t.apiKey, t.apiSecret, ev)
	if err != nil {
		return 0, err
	}
	res, err := t.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL may carry credentials; the log names the host
		}
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	_ = res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("the backend answered %s", res.Status)
	}
	return res.StatusCode, nil
}

// Describe implements prometheus.Collector.
func (w *GiftWebhook) Describe(ch chan<- *prometheus.Desc) { ch <- webhookPendingDesc }

// Collect implements prometheus.Collector: each URL's undelivered gifts, asked of the
// bus at scrape time.
func (w *GiftWebhook) Collect(ch chan<- prometheus.Metric) {
	w.mu.Lock()
	consumers := make(map[string]bus.Consumer, len(w.consumers))
	for t, c := range w.consumers {
		consumers[t.name] = c
	}
	w.mu.Unlock()
	for name, c := range consumers {
		ctx, cancel := context.WithTimeout(w.ctx, 2*time.Second)
		n, err := c.Pending(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(webhookPendingDesc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(webhookPendingDesc, prometheus.GaugeValue, float64(n), name)
	}
}
