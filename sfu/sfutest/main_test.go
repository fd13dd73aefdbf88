package sfutest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: the kit's peers start
// readers and pacers, and the tests of every other package rely on them stopping on Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
