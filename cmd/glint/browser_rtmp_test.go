package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestBrowserRTMPPlay: ffmpeg publishes the High-profile stream with B-frames over
// RTMP; Glint runs it through the ffmpeg ladder, and headless Chromium plays the room over
// WHEP: its video must keep decoding at the ladder's sizes (720p and 480p: the source is
// never upscaled; the SFU moves the viewer between them with its bandwidth estimate) and
// its audio (Opus from the host's AAC) must keep arriving (webclient/e2e/rtmp_whep.mjs).
func TestBrowserRTMPPlay(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	runBrowserScript(t, "e2e/rtmp_whep.mjs", func(a *app, room string) []string {
		// Anonymous viewers cannot create a room: wait until the host is on its stage.
		rtmpHostOnStage(t, a, room)
		return []string{"--heights", "720,480"}
	}, "--seconds", "6")
}

// rtmpHostOnStage starts an RTMP host (startRTMPHost) for room and waits, at most 20 s,
// until it is publishing there.
func rtmpHostOnStage(t *testing.T, a *app, room string) {
	t.Helper()
	if a.rtmp == nil || a.rtmp.Addr() == nil {
		t.Fatal("RTMP ingest is not running")
	}
	url := fmt.Sprintf("rtmp://%s/%s/%s", a.rtmp.Addr(), a.cfg.RTMP.App, mustToken(t, a.cfg, room))
	startRTMPHost(t, url, 45*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for r := a.sfu.Room(room); r == nil || !r.Info().Publishing; r = a.sfu.Room(room) {
		if time.Now().After(deadline) {
			t.Fatalf("the RTMP host did not reach room %s within 20 s", room)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startRTMPHost runs ffmpeg publishing the test stream (1280x720 High, three
// B-frames, AAC) to url for at most limit; it is killed when the test ends.
func startRTMPHost(t *testing.T, url string, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit+5*time.Second)
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-profile:v", "high", "-bf", "3", "-g", "30", "-preset", "veryfast", "-c:a", "aac",
		"-t", fmt.Sprint(int(limit.Seconds())), "-f", "flv", url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out := &safeBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if s := out.String(); s != "" {
			t.Logf("RTMP host (ffmpeg):\n%s", s)
		}
	})
}

// safeBuffer collects a subprocess's output, bounded, for the test log.
type safeBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.b) < 16<<10 {
		s.b = append(s.b, p...)
	}
	return len(p), nil
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// TestBrowserQualityBadge: the RTMP ladder's first ffmpeg reads its input at 85 % of real
// time (a wrapper that only the first run takes, as in the transcode package's
// TestLadderShedsWhenBehind), so it falls behind as on a busy machine; the ladder sheds
// work (the ultrafast preset), the room is told (room.quality) and the watch page, on the
// SDK, shows its "Reduced quality" badge with the reason while the picture goes on
// (webclient/e2e/quality.mjs; its JSON line has the longest stop around the restart).
// With restore_after at 3 s the ladder, now keeping up, then takes its preset back: the
// badge goes and the picture goes on through that restart too. A
// third of real time, as first used, sheds sooner but the browser's timing of a stream
// that slow stretched the stop to about a second, which a real overload does not show.
func TestBrowserQualityBadge(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	var mark string
	runBrowserScriptWith(t, func(cfg *Config) {
		ffmpeg, err := exec.LookPath("ffmpeg")
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		wrapper := filepath.Join(dir, "ffmpeg")
		mark = filepath.Join(dir, "slow")
		// Only a transcode (an -i) takes the mark: start-up's `ffmpeg -encoders` check must not.
		script := "#!/bin/sh\ncase \" $* \" in *\" -i \"*) if mv " + mark + " " + mark + ".taken 2>/dev/null; then exec " + ffmpeg + " -readrate 0.85 \"$@\"; fi;; esac\nexec " + ffmpeg + " \"$@\"\n"
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(mark, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		cfg.RTMP.Transcode.FFmpeg = wrapper
		cfg.RTMP.Transcode.Preset = "veryfast" // so that the first step is the preset
		cfg.RTMP.Transcode.OverloadLag = time.Second
		cfg.RTMP.Transcode.RestoreAfter = 3 * time.Second // and then takes the preset back
	}, "e2e/quality.mjs", func(a *app, room string) []string {
		rtmpHostOnStage(t, a, room)
		return nil
	}, "--seconds", "40", "--restore-seconds", "30")
	// In the network namespace's run: the slowed ffmpeg must be what made the ladder shed
	// (a machine too slow for the ladder as it is would shed as well).
	if _, err := os.Stat(mark + ".taken"); mark != "" && err != nil {
		t.Fatalf("the slowed ffmpeg never ran, so it did not make the ladder shed: %v", err)
	}
}
