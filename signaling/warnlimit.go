package signaling

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// warnEvery is how often a backend that keeps failing is logged: a dead backend is
// retried for as long as it is dead, and its failures must not flood the log.
const warnEvery = 30 * time.Second

// warnLimiter logs the first failure of a run at once, then at most one per warnEvery
// with the number left out, and the recovery when the run ends.
type warnLimiter struct {
	what       string // what is delivered: "gift webhook", "room webhook"
	mu         sync.Mutex
	failing    bool
	last       time.Time
	suppressed int
}

func (l *warnLimiter) failed(log *zap.Logger, fields ...zap.Field) {
	l.mu.Lock()
	now := time.Now()
	if l.failing && now.Sub(l.last) < warnEvery {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.failing, l.last, l.suppressed = true, now, 0
	l.mu.Unlock()
	log.Warn(l.what+" not delivered; retrying", append(fields, zap.Int("failures_not_logged", suppressed))...)
}

func (l *warnLimiter) succeeded(log *zap.Logger, fields ...zap.Field) {
	l.mu.Lock()
	was := l.failing
	l.failing, l.suppressed = false, 0
	l.mu.Unlock()
	if was {
		log.Info(l.what+" delivering again", fields...)
	} else if ce := log.Check(zap.DebugLevel, l.what+" delivered"); ce != nil {
		ce.Write(fields...)
	}
}
