package datachannel

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestLimiter: a burst, then the sustained rate, per key; full buckets are forgotten
// when the map is at its bound, and a key mid-burst is not.
func TestLimiter(t *testing.T) {
	l := newLimiter(2, 3)
	t0 := time.Unix(1000, 0)
	for i := 0; i < 3; i++ {
		if !l.allow("a", t0) {
			t.Fatalf("message %d of the burst refused", i)
		}
	}
	if l.allow("a", t0) {
		t.Fatal("a fourth message at once was allowed")
	}
	if !l.allow("b", t0) {
		t.Fatal("another key shares a's bucket")
	}
	if !l.allow("a", t0.Add(500*time.Millisecond)) || l.allow("a", t0.Add(500*time.Millisecond)) {
		t.Fatal("after 0.5 s at 2/s exactly one token should be back")
	}
	for i := len(l.buckets); i < maxBuckets; i++ {
		l.buckets[fmt.Sprint("idle", i)] = rate.NewLimiter(2, 3)
	}
	l.allow("new", t0.Add(time.Second)) // at the bound: sweeps
	if _, ok := l.buckets["a"]; !ok {
		t.Fatal("a key still refilling was forgotten")
	}
	if len(l.buckets) > 3 {
		t.Fatalf("%d buckets after the sweep, want the busy ones only", len(l.buckets))
	}
}
