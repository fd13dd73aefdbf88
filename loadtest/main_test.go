package loadtest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// agentEnv makes the test binary a viewer agent (see agent.go), so the tests of --procs
// start real agent processes without needing the glint binary.
const agentEnv = "GLINT_LOADTEST_TEST_AGENT=1"

// TestMain fails the package if any test leaves a goroutine behind: Fanout must close every
// peer connection it opened, and the fake server must close its own.
func TestMain(m *testing.M) {
	if os.Getenv("GLINT_LOADTEST_TEST_AGENT") == "1" {
		if err := RunViewerAgent(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
