package signaling

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxTrackedClients bounds the limiter's memory: past it, idle entries are swept early and,
// if none are idle, new keys share one bucket (a flood of addresses cannot grow memory).
const maxTrackedClients = 100_000

// keyLimiter is a token bucket per key: a client's IP (requests), or a room (the cluster
// questions of anonymous viewers waiting for it, roomwait.go).
type keyLimiter struct {
	rate  rate.Limit
	burst int

	mu       sync.Mutex
	clients  map[string]*client
	overflow *rate.Limiter
	lastScan time.Time
}

type client struct {
	lim  *rate.Limiter
	seen time.Time
}

func newKeyLimiter(perSecond float64, burst int) *keyLimiter {
	return &keyLimiter{
		rate: rate.Limit(perSecond), burst: burst,
		clients:  map[string]*client{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

// allow takes one token for key ip (any key).
func (l *keyLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Sweep each minute, or each second while full: never on every request, which would
	// let a flood of addresses make every request walk the whole table.
	if since := now.Sub(l.lastScan); since > time.Minute || (len(l.clients) >= maxTrackedClients && since > time.Second) {
		l.sweep(now)
	}
	c := l.clients[ip]
	if c == nil {
		if len(l.clients) >= maxTrackedClients {
			return l.overflow.AllowN(now, 1)
		}
		c = &client{lim: rate.NewLimiter(l.rate, l.burst)}
		l.clients[ip] = c
	}
	c.seen = now
	return c.lim.AllowN(now, 1)
}

// sweep forgets clients idle long enough for their bucket to have refilled.
func (l *keyLimiter) sweep(now time.Time) {
	l.lastScan = now
	idle := time.Duration(float64(l.burst)/float64(l.rate)*float64(time.Second)) + time.Second
	for ip, c := range l.clients {
		if now.Sub(c.seen) > idle {
			delete(l.clients, ip)
		}
	}
}

// clientIP is the key a client is limited by: its address, or with a trusted proxy the
// last X-Forwarded-For hop (the one the proxy added; earlier hops are the client's to
// forge). IPv6 clients are keyed by their /64, since one host commonly holds a whole /64.
func clientIP(r *http.Request, trustProxy bool) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		host = h
	}
	if trustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			hops := strings.Split(xff[len(xff)-1], ",")
			host = strings.TrimSpace(hops[len(hops)-1])
		}
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}
