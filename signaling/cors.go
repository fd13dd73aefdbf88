package signaling

import (
	"net/http"
	"slices"
)

// cors lets browser pages on other origins publish, play and use the room API (a host's
// page setting its room's metadata): it answers preflights and exposes the headers
// WHIP/WHEP clients read (Location, ETag, Link).
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && s.originAllowed(origin) {
			h := w.Header()
			if slices.Contains(s.cfg.CORSOrigins, "*") {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Add("Vary", "Origin")
			}
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			// Prefer: the SDK's player sends "Prefer: wait=N" on a WHEP offer for a room not
			// open yet (RFC 7240); a header the preflight does not allow fails the request.
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match, Prefer")
			h.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Patch, Accept-Post, Retry-After")
			h.Set("Access-Control-Max-Age", "600")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) originAllowed(origin string) bool {
	return slices.Contains(s.cfg.CORSOrigins, "*") || slices.Contains(s.cfg.CORSOrigins, origin)
}

// options answers CORS preflights and tells WHIP clients what the endpoint accepts, and its
// ICE servers (Link headers): a client that asks before it makes its peer connection
// gathers with them from the start (the SDK does).
func (s *Server) options(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") == "" {
		w.Header().Set("Accept-Post", "application/sdp")
		s.linkICEServers(w)
	} else {
		w.Header().Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	}
	w.WriteHeader(http.StatusNoContent)
}

// preflight answers a CORS preflight of the room API (cors set the headers): a request
// with a token is not "simple", so the browser asks first.
func (s *Server) preflight(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}
