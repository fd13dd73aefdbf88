package whip

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: a closed session must
// have ended its track readers and the PeerConnection's.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
