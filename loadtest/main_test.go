package loadtest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: Fanout must close every
// peer connection it opened, and the fake server must close its own.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
