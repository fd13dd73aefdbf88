package llhls

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (streams, muxers,
// publishers, HTTP connections), and encodes the test clips into a folder of this run's
// own, removed at the end.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "glint-llhls-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "llhls tests:", err)
		os.Exit(1)
	}
	clipDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		_ = os.RemoveAll(dir)
		os.Exit(code)
	}))
}
