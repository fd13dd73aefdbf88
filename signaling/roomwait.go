package signaling

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/sfu"
)

// An anonymous viewer may not create a room (anyone could fill sfu.max_rooms with names
// nobody publishes to), but a page opened before its show starts should play when the host
// goes live rather than give up. So a WHEP request that asks for it (`Prefer: wait=N`,
// RFC 7240) waits for the room to open, bounded: in time (N, at most anonymous_wait), in
// number on the node and per client address, and holding nothing of WebRTC nor a place in
// max_sessions until the room is there. A request that does not ask is answered 404 with
// Retry-After at once: a player learns "not live yet" without delay (the SDK shows it, then
// asks again with Prefer), and clients that never wait keep today's answer.

// maxAnonymousWait bounds anonymous_wait: HTTP clients and proxies commonly give up on a
// request with no answer after 60 s, and the server's write timeout grows with it.
const maxAnonymousWait = time.Minute

// relayJoinWait is how long an anonymous viewer waits for a room being relayed from
// another node of a cluster to open here (a WHEP round trip to the origin and ICE).
const relayJoinWait = 10 * time.Second

// notLiveRetryAfter is the Retry-After of a wait that timed out, in seconds: soon enough
// that a page retrying joins within moments of the host, rare enough to cost little.
const notLiveRetryAfter = "2"

var (
	errNotLiveYet         = errors.New("room not live yet: no host has started it; retry, or send Prefer: wait=N to wait up to N seconds for it")
	errTooManyWaiting     = errors.New("too many viewers waiting for rooms to open on this server; retry")
	errTooManyWaitingHere = errors.New("too many viewers from this address waiting for rooms to open; retry")
	errShuttingDown       = fmt.Errorf("%w: the server is shutting down", errUnavailable)
	// errClientGone: the client left while waiting. Nobody reads the answer.
	errClientGone = fmt.Errorf("%w: the client went away", errUnavailable)
)

var (
	anonymousWaiting = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "glint", Subsystem: "signaling", Name: "anonymous_waiting",
		Help: "Anonymous WHEP requests waiting for their room to open (signaling.anonymous_wait).",
	})
	anonymousWaitTimeouts = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "glint", Subsystem: "signaling", Name: "anonymous_wait_timeouts_total",
		Help: "Anonymous WHEP requests whose room did not open within signaling.anonymous_wait (answered 404 with Retry-After).",
	})
)

// awaitRoom returns once room is open, at once when it is; otherwise it checks offer
// and waits for the room (see above), and says why it stopped: timed out, no place to
// wait, client gone, shutdown. The caller joins the room after: it may have closed again,
// which that join refuses.
func (s *Server) awaitRoom(r *http.Request, room, offer string, relaying bool) error {
	if s.sfu.Room(room) != nil {
		return nil
	}
	if err := checkBeforeWait(room, offer); err != nil {
		return err
	}
	if s.cfg.AnonymousWait <= 0 && !relaying {
		return errNoRoom
	}
	wait := preferredWait(r.Header.Values("Prefer"), s.cfg.AnonymousWait)
	if relaying {
		wait = max(wait, relayJoinWait) // the room is live on another node: it opens here soon
	}
	if wait <= 0 {
		return errNotLiveYet
	}
	client := clientIP(r, s.cfg.TrustProxy)
	if err := s.waiting.take(client); err != nil {
		return err
	}
	defer s.waiting.give(client)
	opened, stop := s.sfu.AwaitRoom(room)
	defer stop()
	deadline := time.Now().Add(wait)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	// On a cluster, a room whose host goes live on another node while the viewer waits
	// (or whose directory entry is not there yet) opens here only once it is relayed: ask
	// again now and then, as the viewer's own retry would, off this goroutine (an answer
	// may take a directory read).
	var relayed <-chan struct{}
	if s.relay != nil && !relaying {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		relayed = s.askWhileWaiting(ctx, room)
	}
	for {
		select {
		case <-opened: // or the SFU closed: the join says so
			return nil
		case <-relayed:
			relayed = nil // relayed from now on: it opens here soon
			if left := time.Until(deadline); left < relayJoinWait {
				timer.Reset(relayJoinWait)
			}
		case <-timer.C:
			anonymousWaitTimeouts.Inc()
			return errNotLiveYet
		case <-r.Context().Done():
			return errClientGone
		case <-s.draining:
			return errShuttingDown
		}
	}
}

// relayRecheck is how often a node asks whether a room that anonymous viewers wait for
// went live on another node of its cluster (each question may be a directory read).
const relayRecheck = time.Second

// askWhileWaiting asks the cluster every relayRecheck whether room can be relayed here
// (which starts the relay) until ctx ends, and closes the channel it returns when it can.
// However many viewers wait for a room, it is asked about at most once a relayRecheck
// (relayAsks, a token bucket per room), and one question at a time per viewer. Close
// waits for a question under way.
func (s *Server) askWhileWaiting(ctx context.Context, room string) <-chan struct{} {
	yes := make(chan struct{})
	// Under s.mu, which Close takes after Drain and before it waits: no Add after the Wait.
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.draining:
		return nil // the wait ends on draining
	default:
	}
	s.asks.Add(1)
	go func() {
		defer s.asks.Done()
		t := time.NewTicker(relayRecheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.draining:
				return
			case now := <-t.C:
				if s.relayAsks.allow(room, now) && s.relay(room) {
					close(yes)
					return
				}
			}
		}
	}()
	return yes
}

// preferredWait reads RFC 7240's `Prefer: wait=N` (seconds; other preferences, and
// parameters after `;`, are ignored) and bounds it by limit; 0 when not asked.
func preferredWait(values []string, limit time.Duration) time.Duration {
	for _, v := range values {
		for _, pref := range strings.Split(v, ",") {
			name, value, ok := strings.Cut(strings.TrimSpace(strings.SplitN(pref, ";", 2)[0]), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "wait") {
				continue
			}
			n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(value), `"`))
			if err != nil || n <= 0 {
				return 0
			}
			return min(time.Duration(n)*time.Second, limit)
		}
	}
	return 0
}

// Drain ends the waits of anonymous viewers for rooms (503 with Retry-After), now and for
// requests arriving later: http.Server's Shutdown waits for running handlers, and must not
// wait anonymous_wait for these. Close drains too; Drain alone leaves sessions running.
func (s *Server) Drain() { s.drainOnce.Do(func() { close(s.draining) }) }

// waitPlaces counts the requests waiting for a room, in all and per client address.
type waitPlaces struct {
	limit, perClient int

	mu       sync.Mutex
	total    int
	byClient map[string]int // only addresses with a request waiting: at most limit entries
}

func newWaitPlaces(limit, perClient int) *waitPlaces {
	return &waitPlaces{limit: limit, perClient: perClient, byClient: map[string]int{}}
}

// take gives client a place to wait, or says why there is none.
func (p *waitPlaces) take(client string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.total >= p.limit:
		return errTooManyWaiting
	case p.byClient[client] >= p.perClient:
		return errTooManyWaitingHere
	}
	p.total++
	p.byClient[client]++
	anonymousWaiting.Inc()
	return nil
}

// give returns a place take gave.
func (p *waitPlaces) give(client string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total--
	if p.byClient[client]--; p.byClient[client] <= 0 {
		delete(p.byClient, client)
	}
	anonymousWaiting.Dec()
}

// checkBeforeWait refuses what would be refused after the wait anyway, so a bad request
// fails at once instead of holding a place: a room name that cannot exist, an offer the
// SFU cannot answer.
func checkBeforeWait(room, offer string) error {
	if !roomname.Valid(room) {
		return fmt.Errorf("%w: %w: %q", errBadRequest, roomname.ErrInvalid, truncateParam(room))
	}
	return sfu.CheckOffer(offer, sfu.RoleViewer)
}
