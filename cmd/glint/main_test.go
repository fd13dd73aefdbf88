package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// subprocessArgs, in the environment, makes the test binary run `glint` with these
// arguments (tab-separated) instead of the tests: a node a test can kill -9.
const subprocessArgs = "GLINT_TEST_SUBPROCESS_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(subprocessArgs); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, strings.Split(args, "\t"), os.Stdout, os.Stderr, os.Getenv)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "glint:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
