package thumbnail

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (a thumbnail being made).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
