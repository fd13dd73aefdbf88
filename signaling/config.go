package signaling

import (
	"fmt"
	"strings"
	"time"
)

// Config tunes the HTTP surface.
type Config struct {
	// AllowAnonymousViewing lets WHEP viewers in without a token.
	AllowAnonymousViewing bool `yaml:"allow_anonymous_viewing"`
	// AnonymousWait is how long an anonymous WHEP request for a room that is not open yet
	// waits for its host to open it (anonymous viewers may not create rooms), so a page
	// opened before the show starts plays as soon as it does; then 404 with Retry-After.
	// 0 answers 404 at once. 0..1m.
	AnonymousWait time.Duration `yaml:"anonymous_wait"`
	// MaxAnonymousWaiting bounds the anonymous requests waiting for a room at once on
	// this node; beyond it they are answered 503 with Retry-After. A wait holds a
	// connection and a goroutine, nothing of WebRTC and no place in max_sessions.
	MaxAnonymousWaiting int `yaml:"max_anonymous_waiting"`
	// MaxAnonymousWaitingPerAddress bounds those from one client address (an IPv4
	// address, an IPv6 /64), so that one client cannot take every place; 429 with
	// Retry-After beyond it. A venue whose audience shares one NAT may raise it.
	MaxAnonymousWaitingPerAddress int `yaml:"max_anonymous_waiting_per_address"`
	// MaxSDPBytes bounds offers and trickle fragments.
	MaxSDPBytes int64 `yaml:"max_sdp_bytes"`
	// RatePerSecond and RateBurst limit WHIP/WHEP requests per client IP.
	RatePerSecond float64 `yaml:"rate_per_second"`
	RateBurst     int     `yaml:"rate_burst"`
	// MaxSessions bounds concurrent WHIP+WHEP sessions on this node.
	MaxSessions int `yaml:"max_sessions"`
	// CORSOrigins may call the API from a browser; "*" allows any origin.
	CORSOrigins []string `yaml:"cors_origins"`
	// TrustProxy takes the client IP from X-Forwarded-For (only behind a proxy you run).
	TrustProxy bool `yaml:"trust_proxy"`
	// ICEServers are announced to clients as Link headers (stun:/turn: URLs).
	ICEServers []string `yaml:"ice_servers"`
	// RoomMetricsTop is how many rooms, the most watched, /metrics names in
	// glint_room_viewers and glint_room_host_live; the others are summed under
	// room="_other", so the series stay bounded whatever the number of rooms. 0..200.
	RoomMetricsTop int `yaml:"room_metrics_top"`
}

// DefaultConfig is what `glint serve` starts with.
func DefaultConfig() Config {
	return Config{
		MaxSDPBytes:    64 << 10,
		RatePerSecond:  10, // a whole office behind one NAT joining an auction at once
		RateBurst:      40,
		MaxSessions:    5000,
		CORSOrigins:    []string{"*"},
		RoomMetricsTop: 20,
		// Long enough for a page opened as the host sets up, well under the minute after
		// which clients and proxies commonly give up on an answer.
		AnonymousWait: 20 * time.Second,
		// A wait holds a few KiB; 1,000 of them are a crowd at a show's start, and one
		// address takes at most 1% of them.
		MaxAnonymousWaiting:           1000,
		MaxAnonymousWaitingPerAddress: 10,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxSDPBytes < 1024 || c.MaxSDPBytes > 1<<20:
		return fmt.Errorf("signaling: max_sdp_bytes must be 1024..1048576, got %d", c.MaxSDPBytes)
	case c.RatePerSecond <= 0:
		return fmt.Errorf("signaling: rate_per_second must be positive, got %v", c.RatePerSecond)
	case c.RoomMetricsTop < 0 || c.RoomMetricsTop > maxRoomMetricsTop:
		return fmt.Errorf("signaling: room_metrics_top must be 0..%d, got %d", maxRoomMetricsTop, c.RoomMetricsTop)
	case c.RateBurst < 1:
		return fmt.Errorf("signaling: rate_burst must be at least 1, got %d", c.RateBurst)
	case c.MaxSessions < 1:
		return fmt.Errorf("signaling: max_sessions must be at least 1, got %d", c.MaxSessions)
	case c.AnonymousWait < 0 || c.AnonymousWait > maxAnonymousWait:
		return fmt.Errorf("signaling: anonymous_wait must be 0..%v, got %v", maxAnonymousWait, c.AnonymousWait)
	case c.AnonymousWait > 0 && c.MaxAnonymousWaiting < 1:
		return fmt.Errorf("signaling: max_anonymous_waiting must be at least 1 while anonymous_wait is on, got %d", c.MaxAnonymousWaiting)
	case c.AnonymousWait > 0 && (c.MaxAnonymousWaitingPerAddress < 1 || c.MaxAnonymousWaitingPerAddress > c.MaxAnonymousWaiting):
		return fmt.Errorf("signaling: max_anonymous_waiting_per_address must be 1..max_anonymous_waiting (%d), got %d",
			c.MaxAnonymousWaiting, c.MaxAnonymousWaitingPerAddress)
	}
	for _, u := range c.ICEServers {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return fmt.Errorf("signaling: ice_servers: %q is not a stun:, turn: or turns: URL", u)
		}
	}
	return nil
}
