package sfu

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (sessions, receivers,
// timers): Close must wait for everything it started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
