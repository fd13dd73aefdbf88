package signaling

import (
	"errors"
	"net/http"
	"sync"

	"go.uber.org/zap"

	"github.com/glintlive/glint/signaling/auth"
)

// resource is a WHIP or WHEP session URL. Its id is 128 random bits: knowing the URL is
// what the RFC 9725 model relies on, and when the session was created with a token, every
// PATCH and DELETE must also present a token with the same grant.
type resource struct {
	id, kind, room, path, etag string
	ufrag                      string // to tell an ICE restart from trickle
	perm                       auth.Permission
	tokenRequired              bool
	sess                       session

	mu         sync.Mutex
	candidates int // trickled so far; bounded by maxSessionCandidates
}

// maxSessionCandidates bounds what one session may trickle over its life: every remote
// candidate costs the ICE agent pairs, checks and memory.
const maxSessionCandidates = 128

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
		sess:          sess,
	}
	s.mu.Lock()
	s.resources[id] = res
	s.mu.Unlock()
	// Whichever way the session ends (DELETE, ICE failure, reaping, replacement by a new
	// host session), its URL goes with it.
	sess.OnClose(func() {
		s.mu.Lock()
		delete(s.resources, id)
		s.mu.Unlock()
	})
	return res
}

// lookup finds the resource named by the request and checks the caller may act on it.
func (s *Server) lookup(r *http.Request) (*resource, error) {
	s.mu.Lock()
	res := s.resources[r.PathValue("id")]
	s.mu.Unlock()
	if res == nil || res.room != r.PathValue("room") || !isKindPath(r.URL.Path, res.kind) {
		return nil, errNoSession
	}
	if res.tokenRequired {
		if _, err := s.verifier.Authorize(r, res.room, false, res.perm); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func isKindPath(path, kind string) bool {
	return len(path) > len(kind)+1 && path[1:len(kind)+1] == kind
}

// patch handles trickle ICE (RFC 9725 §4.3.1). ICE restarts are refused with 422 as the RFC
// requires of servers that only trickle; the client starts a new session instead.
func (s *Server) patch(w http.ResponseWriter, r *http.Request) {
	res, err := s.lookup(r)
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
	s.log.Info("session deleted by client", zap.String("session", res.id), zap.String("room", res.room))
	res.sess.Close()
	w.WriteHeader(http.StatusOK)
}
