package sfutest

import (
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Logger returns a logger for tests that writes warnings and errors to stderr. It is not
// zaptest's: pion's goroutines may log a line after a test has returned, which zaptest turns
// into a panic.
func Logger() *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	level := zap.WarnLevel
	if os.Getenv("GLINT_TEST_DEBUG") != "" {
		level = zap.DebugLevel
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(os.Stderr), level))
}
