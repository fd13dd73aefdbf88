package relay

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (relays, pion, NATS).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
