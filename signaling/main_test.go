package signaling

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind. Started with
// WebhookChildDirEnv set, the test binary is instead the server process of
// TestGiftWebhookSIGKILL.
func TestMain(m *testing.M) {
	if dir := os.Getenv(WebhookChildDirEnv); dir != "" {
		os.Exit(runWebhookChild(dir, os.Getenv(WebhookChildURLEnv)))
	}
	goleak.VerifyTestMain(m)
}
