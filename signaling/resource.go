package signaling

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/glintlive/glint/signaling/auth"
)

// resource is a WHIP or WHEP session URL. Its id is 128 random bits: knowing the URL is
// what the RFC 9725 model relies on. When the session was created with a token, every
// PATCH and DELETE must also present a token with the same grant for the same identity
// (or roomAdmin for the room): a URL seen in a log or a shared screen does not let another
// viewer end or trickle someone else's session. A session created without a token (an
// anonymous viewer) has no identity to bind to, so its URL alone controls it.
type resource struct {
	id, kind, room, path, etag string
	ufrag                      string // to tell an ICE restart from trickle
	perm                       auth.Permission
	tokenRequired              bool
	identity                   string // the creator's; meaningful when tokenRequired
	sess                       session
	patches                    *rate.Limiter // this session's PATCHes
	created                    time.Time
	endedBy                    atomic.Pointer[string] // who ended it, for its log line; nil: the server

	mu         sync.Mutex
	candidates int // trickled so far; bounded by maxSessionCandidates
}

// Limits on a session's own requests. They are per session, not per address: PATCH costs
// ICE work, so it stays bounded, but viewers behind one NAT must not lose trickle (or
// their ability to end a session) to each other's POSTs. DELETE has no limit: it ends the
// session, once. Requests that fail (no such session, bad token, someone else's session)
// are charged to the address's POST bucket instead, so guessing ids costs as much as
// creating sessions.
const (
	// maxSessionCandidates bounds what one session may trickle over its life: every
	// remote candidate costs the ICE agent pairs, checks and memory.
	maxSessionCandidates = 128
	// patchRate and patchBurst bound a session's PATCHes: a browser sends one per
	// candidate, a handful in its first second.
	patchRate  = 10 // per second
	patchBurst = 20
)

func (s *Server) register(id, kind, room, offer string, claims *auth.Claims, sess session) *resource {
	perm := auth.PermPublish
	if kind == "whep" {
		perm = auth.PermSubscribe
	}
	res := &resource{
		id: id, kind: kind, room: room,
		path:          "/" + kind + "/" + room + "/" + id,
		etag:          `"` + newID()[:16] + `"`,
		ufrag:         offerUfrag(offer),
		perm:          perm,
		tokenRequired: claims != nil,
		identity:      identity(claims),
		sess:          sess,
		patches:       rate.NewLimiter(patchRate, patchBurst),
		created:       time.Now(),
	}
	s.mu.Lock()
	s.resources[id] = res
	s.mu.Unlock()
	s.webhook.Load().participant(true, res)
	// Whichever way the session ends (DELETE, ICE failure, reaping, replacement by a new
	// host session), its URL goes with it.
	sess.OnClose(func() {
		s.mu.Lock()
		delete(s.resources, id)
		s.mu.Unlock()
		s.webhook.Load().participant(false, res)
		by := "server (reaped, replaced or shut down)"
		if p := res.endedBy.Load(); p != nil {
			by = *p
		}
		s.log.Info("session ended", zap.String("room", room), zap.String("session", id), zap.String("kind", kind),
			zap.String("identity", res.identity), zap.Duration("lasted", time.Since(res.created).Round(time.Millisecond)),
			zap.String("by", by))
	})
	return res
}

// lookup finds the resource named by the request and checks the caller may act on it.
// A refusal costs the client's address a token of its POST bucket, and is a 429 once that
// is empty.
func (s *Server) lookup(r *http.Request) (*resource, error) {
	res, err := s.find(r)
	if err != nil {
		if !s.limiter.allow(clientIP(r, s.cfg.TrustProxy), time.Now()) {
			return nil, errRateLimited
		}
		return nil, err
	}
	return res, nil
}

// change is lookup for a request that changes the session (PATCH, a relay's layers),
// charged to the session's budget of those.
func (s *Server) change(r *http.Request) (*resource, error) {
	res, err := s.lookup(r)
	if err != nil {
		return nil, err
	}
	if !res.patches.Allow() {
		return nil, errPatchRate
	}
	return res, nil
}

func (s *Server) find(r *http.Request) (*resource, error) {
	s.mu.Lock()
	res := s.resources[r.PathValue("id")]
	s.mu.Unlock()
	if res == nil || res.room != r.PathValue("room") || !isKindPath(r.URL.Path, res.kind) {
		return nil, errNoSession
	}
	if !res.tokenRequired {
		return res, nil
	}
	claims, err := s.verifier.Authorize(r, res.room, false, res.perm)
	if err != nil {
		return nil, err
	}
	if claims.Identity != res.identity && claims.Allow(res.room, auth.PermAdmin) != nil {
		return nil, errNotYours
	}
	return res, nil
}

func isKindPath(path, kind string) bool {
	return len(path) > len(kind)+1 && path[1:len(kind)+1] == kind
}

// patch handles trickle ICE (RFC 9725 §4.3.1). ICE restarts are refused with 422 as the RFC
// requires of servers that only trickle; the client starts a new session instead.
func (s *Server) patch(w http.ResponseWriter, r *http.Request) {
	res, err := s.change(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != res.etag {
		writeError(w, errETag)
		return
	}
	body, err := s.readBody(w, r, "application/trickle-ice-sdpfrag")
	if err != nil {
		writeError(w, err)
		return
	}
	frag, err := parseFragment(body)
	if err != nil {
		writeError(w, errors.Join(errBadRequest, err))
		return
	}
	if frag.ufrag != "" && res.ufrag != "" && frag.ufrag != res.ufrag {
		writeError(w, errICERestart)
		return
	}
	if !res.takeCandidates(len(frag.candidates)) {
		writeError(w, errTooManyCands)
		return
	}
	for _, c := range frag.candidates {
		if err := res.sess.AddICECandidate(c); err != nil {
			writeError(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// sid is the session's participant sid in the room webhooks and the room API.
func (res *resource) sid() string { return "PA_" + res.id[:12] }

func (res *resource) takeCandidates(n int) bool {
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.candidates+n > maxSessionCandidates {
		return false
	}
	res.candidates += n
	return true
}

// delete ends the session.
func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	res, err := s.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	res.end("the client (DELETE)")
	w.WriteHeader(http.StatusOK)
}

// end closes the session, saying who ended it in its log line.
func (res *resource) end(by string) {
	res.endedBy.CompareAndSwap(nil, &by)
	res.sess.Close()
}
