package llhls

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// vp8Clips are the VP8 encodings of the test clips, one per spec, made once per run.
var vp8Clips sync.Map // clipSpec -> *clipOnce

// loadVP8Clip encodes spec in VP8 (libvpx, realtime, a keyframe a second, no alt-ref
// frames: what a browser sends) once per test run. Its frames are in annexB (the payloader's
// input) and aus is empty.
func loadVP8Clip(t testing.TB, spec clipSpec) *clip {
	t.Helper()
	ffmpeg := requireFFmpeg(t)
	v, _ := vp8Clips.LoadOrStore(spec, &clipOnce{})
	co := v.(*clipOnce)
	co.once.Do(func() { co.c, co.err = encodeVP8Clip(ffmpeg, spec) })
	if co.err != nil {
		t.Fatal(co.err)
	}
	return co.c
}

func encodeVP8Clip(ffmpeg string, spec clipSpec) (*clip, error) {
	path := filepath.Join(clipDir, fmt.Sprintf("testsrc-%dx%d.ivf", spec.width, spec.height))
	kbps := strconv.Itoa(spec.kbps) + "k"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%dx%d:rate=%d", spec.width, spec.height, clipFPS),
		"-t", strconv.Itoa(clipSeconds),
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", kbps,
		"-g", strconv.Itoa(clipFPS), "-keyint_min", strconv.Itoa(clipFPS), "-auto-alt-ref", "0", "-lag-in-frames", "0",
		"-f", "ivf", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w: %s", err, stderr.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &clip{spec: spec, vp8: true}
	if len(data) < ivfHeaderLen || string(data[:4]) != "DKIF" {
		return nil, fmt.Errorf("%s: not IVF", path)
	}
	for b := data[ivfHeaderLen:]; len(b) >= ivfFrameHeaderLen; {
		n := int(binary.LittleEndian.Uint32(b))
		if len(b) < ivfFrameHeaderLen+n {
			return nil, fmt.Errorf("%s: truncated frame", path)
		}
		f := b[ivfFrameHeaderLen : ivfFrameHeaderLen+n]
		if f[0]&1 == 0 {
			c.keys = append(c.keys, len(c.annexB))
		}
		c.annexB = append(c.annexB, f)
		b = b[ivfFrameHeaderLen+n:]
	}
	if len(c.annexB) < clipFPS*clipSeconds-1 || len(c.keys) < clipSeconds || c.keys[0] != 0 {
		return nil, fmt.Errorf("VP8 clip %dx%d: %d frames, keyframes at %v", spec.width, spec.height, len(c.annexB), c.keys)
	}
	return c, nil
}
