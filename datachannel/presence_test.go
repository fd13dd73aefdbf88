package datachannel

import (
	"testing"
	"time"
)

// TestPresenceIsThrottled joins many viewers at once: the count converges to the real
// number, in far fewer presence events than joins.
func TestPresenceIsThrottled(t *testing.T) {
	h := newTestHub(t, hubOpts{cfg: func(c *Config) { c.PresenceInterval = time.Second }})
	watcher := join(t, h, nil)
	const joins = 50
	for i := 0; i < joins; i++ {
		join(t, h, nil)
	}
	events := 0
	watcher.take("presence", func(e *Envelope) bool {
		if e.Type != TypePresence {
			return false
		}
		events++
		return num(payloadOf(t, e)["viewers"]) == joins+1
	})
	// At most one event a second (plus the first): a handful, whatever the machine's speed.
	if events > joins/5 {
		t.Fatalf("%d presence events for %d joins; want them throttled", events, joins)
	}
}
