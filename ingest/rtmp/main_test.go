package rtmp

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind: connections, host
// sessions, ladders and their Receivers must all end with Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
