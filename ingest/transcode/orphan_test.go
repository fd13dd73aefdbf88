package transcode

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestNoOrphanWhenGlintDies: if glint itself is killed (no Close, no deferred cleanup), the
// kernel kills its ffmpeg (Pdeathsig), so no transcoder is left running unsupervised. The
// test runs a copy of this test binary as "glint", kills it with SIGKILL, and checks that
// the "ffmpeg" it started is gone. The fake ffmpeg ignores its stdin, so the broken pipe
// alone would not end it.
func TestNoOrphanWhenGlintDies(t *testing.T) {
	if dir := os.Getenv("TRANSCODE_ORPHAN_HELPER"); dir != "" {
		orphanHelper(dir)
		return
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "ffmpeg")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho $$ > "+filepath.Join(dir, "pid")+"\nexec sleep 300\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	helper := exec.Command(os.Args[0], "-test.run=^TestNoOrphanWhenGlintDies$")
	helper.Env = append(os.Environ(), "TRANSCODE_ORPHAN_HELPER="+dir)
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	var pid string
	waitFor(t, 10*time.Second, "the helper's ffmpeg", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "pid"))
		pid = strings.TrimSpace(string(b))
		return err == nil && pid != ""
	})
	if !alive(pid) {
		t.Fatalf("fake ffmpeg %s is not running", pid)
	}
	// Should the test fail, do not leave the orphan running.
	t.Cleanup(func() {
		if n, err := strconv.Atoi(pid); err == nil && alive(pid) {
			_ = syscall.Kill(n, syscall.SIGKILL)
		}
	})
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	waitFor(t, 5*time.Second, "the orphaned ffmpeg to die", func() bool { return !alive(pid) })
}

// orphanHelper is the "glint" of TestNoOrphanWhenGlintDies: it starts a ladder on the fake
// ffmpeg in dir and waits to be killed.
func orphanHelper(dir string) {
	src := Source{HasAudio: true, AudioConfig: []byte{0x12, 0x10}}
	l, err := Start(context.Background(), Config{FFmpeg: filepath.Join(dir, "ffmpeg"), StallTimeout: time.Hour}, src, zap.NewNop())
	if err != nil {
		os.Exit(2)
	}
	_ = l
	time.Sleep(time.Minute)
	os.Exit(3) // never reached in the test: SIGKILL comes first
}
