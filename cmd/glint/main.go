// Command glint is the Glint live-streaming server: `glint serve` runs it, `glint token`
// mints access tokens for it, `glint loadtest` measures it (or any WHIP/WHEP server).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `glint: ultra-low-latency live streaming (WHIP/RTMP in, WebRTC/LL-HLS out)

usage:
  glint serve [--dev] [--config FILE] [flags]   run the server
  glint token --room R --identity I [grants]    print an access token
  glint loadtest fanout --whip URL --whep URL   measure a server under viewers
  glint loadtest burst --whep URL               measure a burst of session set-ups
  glint help                                    this text

Run "glint serve -h" or "glint token -h" for their flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "glint:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch args[0] {
	case "serve":
		return serveCommand(ctx, args[1:], stderr, getenv)
	case "token":
		return tokenCommand(args[1:], stdout, stderr, getenv)
	case "loadtest":
		return loadtestCommand(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
