package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func serveCommand(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("glint serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := registerConfigFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %v", fs.Args())
	}
	cfg, err := flags.load(fs, getenv)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	a, err := newAppContext(ctx, cfg, log)
	if err != nil {
		if ctx.Err() != nil {
			// Interrupted while starting (a cluster node waiting for the others): that is
			// a stop the operator asked for, not a failure.
			log.Info("stopped while starting", zap.Error(err))
			return nil
		}
		return err
	}
	a.start()
	if cfg.PprofAddr != "" {
		stop, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			_ = a.close(context.Background())
			return err
		}
		defer stop()
	}
	log.Info("glint is serving",
		zap.String("http", a.URL()),
		zap.String("udp", cfg.SFU.UDPAddr),
		zap.String("publish", a.URL()+"/demo/publish.html"),
		zap.String("watch", a.URL()+"/demo/play.html"),
		zap.Bool("anonymous_viewing", cfg.Signaling.AllowAnonymousViewing))
	if a.rtmp != nil {
		for _, addr := range []net.Addr{a.rtmp.Addr(), a.rtmp.TLSAddr()} {
			if addr == nil {
				continue
			}
			scheme := "rtmp"
			if addr == a.rtmp.TLSAddr() {
				scheme = "rtmps"
			}
			host, port, _ := net.SplitHostPort(addr.String())
			if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
				host = "HOST"
			}
			log.Info("RTMP ingest ready: stream key = a token from `glint token --publish`",
				zap.String("obs_server", scheme+"://"+net.JoinHostPort(host, port)+"/"+cfg.RTMP.App))
		}
	}
	if cfg.generatedSecret || (cfg.Dev && cfg.APISecret == devSecret) {
		// Printed on purpose: without it nobody could mint a token for this run. A secret
		// the operator configured is never logged.
		log.Warn("development credentials; do not use in production",
			zap.String("api_key", cfg.APIKey), zap.String("api_secret", cfg.APISecret))
	}

	<-ctx.Done()
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.close(shutdown)
}

func newLogger(cfg Config) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	zc := zap.NewProductionConfig()
	if cfg.Dev {
		zc = zap.NewDevelopmentConfig()
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	// Stack traces for errors only: the development config adds them to warnings too,
	// which buries every expected warning (development credentials, a refused publish)
	// under a trace.
	return zc.Build(zap.AddStacktrace(zapcore.ErrorLevel))
}
