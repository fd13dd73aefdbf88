package signaling

import (
	"testing"
	"time"
)

// TestPreferredWait: RFC 7240's wait preference, bounded by anonymous_wait.
func TestPreferredWait(t *testing.T) {
	for _, c := range []struct {
		prefer []string
		want   time.Duration
	}{
		{nil, 0},
		{[]string{"wait=5"}, 5 * time.Second},
		{[]string{"respond-async, wait=10"}, 10 * time.Second},
		{[]string{"return=minimal", `Wait="3"; x=y`}, 3 * time.Second},
		{[]string{"wait=3600"}, 20 * time.Second},
		{[]string{"wait=0"}, 0},
		{[]string{"wait=-4"}, 0},
		{[]string{"wait=soon"}, 0},
		{[]string{"waiting=5"}, 0},
	} {
		if got := preferredWait(c.prefer, 20*time.Second); got != c.want {
			t.Errorf("Prefer %q: %v, want %v", c.prefer, got, c.want)
		}
	}
}
