package transcode

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// assertNoChildren fails if this test process has any child left, alive or zombie: every
// ffmpeg must have been killed and reaped.
func assertNoChildren(t testing.TB) {
	t.Helper()
	self := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces, so parse after the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == self {
			t.Errorf("child process left behind: %s", strings.TrimSpace(s[:i+1]))
		}
	}
}
