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
// if none are idle, new clients share one bucket (a flood of addresses cannot grow memory).
const maxTrackedClients = 100_000

// ipLimiter is a token bucket per client IP.
type ipLimiter struct {
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

func newIPLimiter(perSecond float64, burst int) *ipLimiter {
	return &ipLimiter{
		rate: rate.Limit(perSecond), burst: burst,
		clients:  map[string]*client{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

// allow takes one token for ip.
func (l *ipLimiter) allow(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastScan) > time.Minute || len(l.clients) >= maxTrackedClients {
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
func (l *ipLimiter) sweep(now time.Time) {
	l.lastScan = now
	idle := time.Duration(float64(l.burst)/float64(l.rate)*float64(time.Second)) + time.Second
	for ip, c := range l.clients {
		if now.Sub(c.seen) > idle {
			delete(l.clients, ip)
		}
	}
}

// clientIP is the remote address, or the first X-Forwarded-For hop when trusted.
func clientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
