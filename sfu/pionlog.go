package sfu

import (
	"fmt"
	"strings"
	"time"

	"github.com/pion/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// pionLoggerFactory routes pion's logs into zap. pion is chatty at Info (every ICE state
// step) and repeats the same warning per packet when a peer misbehaves, so Info and below
// become Debug, and each scope is sampled: at most 5 identical messages a second.
type pionLoggerFactory struct{ log *zap.Logger }

func newPionLoggerFactory(log *zap.Logger) logging.LoggerFactory {
	sampled := log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, 5, 0)
	}))
	return pionLoggerFactory{log: sampled.Named("pion")}
}

func (f pionLoggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return pionLogger{f.log.Named(scope).WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

type pionLogger struct{ s *zap.SugaredLogger }

func (l pionLogger) Trace(string)                 {}
func (l pionLogger) Tracef(string, ...any)        {}
func (l pionLogger) Debug(msg string)             { l.s.Debug(msg) }
func (l pionLogger) Debugf(f string, args ...any) { l.s.Debugf(f, args...) }
func (l pionLogger) Info(msg string)              { l.s.Debug(msg) }
func (l pionLogger) Infof(f string, args ...any)  { l.s.Debugf(f, args...) }
func (l pionLogger) Warn(msg string)              { l.warn(msg) }
func (l pionLogger) Warnf(f string, args ...any)  { l.warn(fmt.Sprintf(f, args...)) }

// warn logs at Warn what may need an operator, at Debug what every session's normal
// start or end makes pion say (benignPionWarnings).
func (l pionLogger) warn(msg string) {
	for _, b := range benignPionWarnings {
		if strings.Contains(msg, b) {
			l.s.Debug(msg)
			return
		}
	}
	l.s.Warn(msg)
}

// benignPionWarnings are pion warnings that a session's ordinary life produces: half the
// log lines of a quiet server were these (a 20 s run of one host and ten viewers wrote 41
// of them, and 31 lines of its own).
var benignPionWarnings = []string{
	// Closing a session: its readers and the ICE agent find their pipes and streams
	// closed under them, and SCTP's last write finds DTLS closed.
	"stream is already closed",
	"read/write on closed pipe",
	"dtls fatal: conn is closed",
	"connecting canceled by caller",
	// Opening one: the agent's first checks come before the remote candidates, and
	// DTLS or SRTP packets that arrive before their endpoint exists wait in a queue.
	"Failed to ping without candidate pairs",
	"mux: no endpoint for packet",
}

func (l pionLogger) Error(msg string)             { l.s.Error(msg) }
func (l pionLogger) Errorf(f string, args ...any) { l.s.Error(fmt.Sprintf(f, args...)) }
