package transcode

import (
	"bufio"
	"io"
	"strings"
	"sync"

	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// stderrLog turns ffmpeg's stderr into log lines: rate-limited (an ffmpeg fed garbage can
// print a line per packet), with what was suppressed counted, and the last lines kept for the
// message when the process exits.
type stderrLog struct {
	log     *zap.Logger
	limit   *rate.Limiter
	dropped int

	mu   sync.Mutex
	tail []string
}

// stderrTail is how many of ffmpeg's last lines an exit message carries.
const stderrTail = 5

func newStderrLog(log *zap.Logger) *stderrLog {
	// A burst covers a start-up's worth of warnings; after that one line a second.
	return &stderrLog{log: log, limit: rate.NewLimiter(1, 20)}
}

// consume logs r's lines until EOF (every holder of the pipe's write end has exited).
func (s *stderrLog) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for sc.Scan() {
		s.line(sc.Text())
	}
}

func (s *stderrLog) line(l string) {
	l = strings.TrimSpace(l)
	if l == "" {
		return
	}
	s.mu.Lock()
	s.tail = append(s.tail, l)
	if len(s.tail) > stderrTail {
		s.tail = s.tail[1:]
	}
	s.mu.Unlock()
	if benign(l) {
		if ce := s.log.Check(zap.DebugLevel, "ffmpeg"); ce != nil {
			ce.Write(zap.String("line", l))
		}
		return
	}
	if !s.limit.Allow() {
		s.dropped++
		return
	}
	fields := []zap.Field{zap.String("line", l)}
	if s.dropped > 0 {
		fields = append(fields, zap.Int("suppressed", s.dropped))
		s.dropped = 0
	}
	s.log.Warn("ffmpeg", fields...)
}

// lastLines returns the last lines ffmpeg printed, oldest first.
func (s *stderrLog) lastLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tail...)
}

// benign lines are what ffmpeg prints at every start because we ask it not to probe the
// input (see jobArgs.build): true, expected, and not worth a warning each time.
func benign(l string) bool {
	for _, s := range []string{
		"consider increasing probesize",
		"Consider increasing the value for the 'analyzeduration'",
		"Could not find codec parameters for stream",
	} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
