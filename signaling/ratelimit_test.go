package signaling

import (
	"net/http"
	"testing"
	"time"
)

func TestClientIP(t *testing.T) {
	cases := []struct {
		name, remote, xff string
		trust             bool
		want              string
	}{
		{"v4", "192.0.2.7:5000", "", false, "192.0.2.7"},
		{"xff ignored without trust", "192.0.2.7:5000", "198.51.100.1", false, "192.0.2.7"},
		{"last hop is the proxy's", "10.0.0.1:80", "6.6.6.6, 198.51.100.1", true, "198.51.100.1"},
		{"v6 keyed by /64", "[2001:db8:1:2:aaaa::1]:5000", "", false, "2001:db8:1:2::/64"},
		{"v6 neighbour shares the key", "[2001:db8:1:2:bbbb::9]:5000", "", false, "2001:db8:1:2::/64"},
	}
	for _, c := range cases {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientIP(r, c.trust); got != c.want {
			t.Errorf("%s: clientIP = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestKeyLimiter(t *testing.T) {
	l := newKeyLimiter(1, 2)
	now := time.Unix(1000, 0)
	if !l.allow("a", now) || !l.allow("a", now) || l.allow("a", now) {
		t.Fatal("burst of 2 not enforced")
	}
	if !l.allow("b", now) {
		t.Fatal("another client shares a's bucket")
	}
	if !l.allow("a", now.Add(1100*time.Millisecond)) {
		t.Fatal("bucket did not refill")
	}
	l.allow("c", now.Add(time.Hour)) // triggers a sweep
	if len(l.clients) != 1 {
		t.Fatalf("%d clients after the sweep, want only c", len(l.clients))
	}
}
