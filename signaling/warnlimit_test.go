package signaling

import (
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestWarnLimiter: a backend failing over and over is logged once per warnEvery, with
// the count left out, and its recovery once.
func TestWarnLimiter(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	l := warnLimiter{what: "gift webhook"}
	for i := 0; i < 5; i++ {
		l.failed(log)
	}
	if n := logs.FilterMessage("gift webhook not delivered; retrying").Len(); n != 1 {
		t.Fatalf("%d warnings for a run of 5 failures", n)
	}
	l.mu.Lock()
	l.last = l.last.Add(-warnEvery - time.Second) // warnEvery has passed
	l.mu.Unlock()
	l.failed(log)
	warns := logs.FilterMessage("gift webhook not delivered; retrying").All()
	if len(warns) != 2 || warns[1].ContextMap()["failures_not_logged"] != int64(4) {
		t.Fatalf("warnings %+v", warns)
	}
	l.succeeded(log)
	l.succeeded(log)
	if n := logs.FilterMessage("gift webhook delivering again").Len(); n != 1 {
		t.Fatalf("%d recoveries logged", n)
	}
	l.failed(log) // a new run is logged at once
	if n := logs.FilterMessage("gift webhook not delivered; retrying").Len(); n != 3 {
		t.Fatalf("%d warnings after a new failure", n)
	}
}
