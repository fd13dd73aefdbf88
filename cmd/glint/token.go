package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/glintlive/glint/signaling/auth"
)

func tokenCommand(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("glint token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := registerConfigFlags(fs, false)
	var o auth.TokenOptions
	fs.StringVar(&o.Room, "room", "", "room the token is for (required, except with --list or --create alone)")
	fs.StringVar(&o.Identity, "identity", "", "who the token is for (required)")
	fs.StringVar(&o.Name, "name", "", "display name")
	fs.BoolVar(&o.Publish, "publish", false, "grant canPublish (WHIP, RTMP)")
	fs.BoolVar(&o.Subscribe, "subscribe", false, "grant canSubscribe (WHEP)")
	fs.BoolVar(&o.Data, "publish-data", false, "grant canPublishData (chat, bids)")
	// The old name, kept for scripts: for `serve`, --data is the data directory.
	fs.BoolVar(&o.Data, "data", false, "the same as --publish-data (deprecated: serve's --data is a directory)")
	fs.BoolVar(&o.Admin, "admin", false, "grant roomAdmin (moderation, polls, auctions)")
	fs.BoolVar(&o.List, "list", false, "grant roomList: list every room (GET /rooms); --room may then be left out")
	fs.BoolVar(&o.Create, "create", false, "grant roomCreate: delete any room through LiveKit's RoomService (Twirp); --room may then be left out")
	fs.DurationVar(&o.TTL, "ttl", time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := flags.load(fs, getenv)
	if err != nil {
		return err
	}
	if cfg.generatedSecret {
		return fmt.Errorf("token: no API key/secret configured: pass --dev, --api-key/--api-secret, GLINT_API_KEY/GLINT_API_SECRET or --config")
	}
	token, err := auth.Issue(cfg.APIKey, cfg.APISecret, o)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}
