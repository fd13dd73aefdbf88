package bus

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind, the embedded NATS
// server's included.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
