package sfu

import (
	"fmt"
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
func (l pionLogger) Warn(msg string)              { l.s.Warn(msg) }
func (l pionLogger) Warnf(f string, args ...any)  { l.s.Warn(fmt.Sprintf(f, args...)) }
func (l pionLogger) Error(msg string)             { l.s.Error(msg) }
func (l pionLogger) Errorf(f string, args ...any) { l.s.Error(fmt.Sprintf(f, args...)) }
