// Command glint is the Glint live-streaming server: `glint serve` runs it, `glint token`
// mints access tokens for it, `glint loadtest` measures it (or any WHIP/WHEP server),
// `glint version` says which build it is.
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
  glint loadtest fanout --whip URL --whep URL   measure a server under WebRTC viewers
  glint loadtest chat --server URL --room R     measure a room's chat and event fan-out
  glint loadtest burst --whep URL               measure a burst of session set-ups
  glint loadtest hls --url URL --room R         measure a server under LL-HLS viewers
  glint config defaults                         print every config key, its default and its use
  glint version                                 print the build's version
  glint help                                    this text

Run "glint serve -h", "glint token -h" or "glint loadtest" for their flags.
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
	case "config":
		return configCommand(args[1:], stdout, stderr)
	case "version", "--version":
		_, err := fmt.Fprintln(stdout, version())
		return err
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
