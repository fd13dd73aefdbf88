package transcode

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (supervisors, readers,
// feeders): Close must wait for everything it started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
