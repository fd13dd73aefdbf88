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

// TestAskTimes: a room waited for is asked about at most once a relayRecheck, and the
// rooms remembered are bounded: a new room past the bound waits until an entry is stale.
func TestAskTimes(t *testing.T) {
	a := askTimes{limit: 2}
	t0 := time.Unix(1_700_000_000, 0)
	if !a.due("a", t0) || a.due("a", t0.Add(relayRecheck/2)) {
		t.Fatal("room a: want asked once within relayRecheck")
	}
	if !a.due("a", t0.Add(relayRecheck)) {
		t.Fatal("room a: want asked again after relayRecheck")
	}
	t1 := t0.Add(relayRecheck)
	if !a.due("b", t1) {
		t.Fatal("room b: want asked")
	}
	if a.due("c", t1) {
		t.Fatal("room c: asked past the bound of 2 rooms")
	}
	if !a.due("c", t1.Add(relayRecheck)) || len(a.last) > 2 {
		t.Fatalf("room c once the others are stale: want asked, %d rooms remembered (≤ 2)", len(a.last))
	}
}
