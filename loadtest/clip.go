package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Clip is an H.264 elementary stream split into access units, looped by the publisher.
type Clip struct {
	FPS   int
	AUs   [][]byte // each an Annex-B access unit (start codes included)
	Bytes int
	keys  []int // indexes of the AUs that hold an IDR
}

// nextKey returns the index of the first keyframe at or after pos, wrapping around.
func (c *Clip) nextKey(pos int) int {
	for _, k := range c.keys {
		if k >= pos {
			return k
		}
	}
	return c.keys[0]
}

// ClipSpec says what clip to encode.
type ClipSpec struct {
	Width, Height, FPS int
	BitrateKbps        int
	Seconds            int
}

// validate checks the clip can be encoded and paced.
func (c ClipSpec) validate() error {
	if c.FPS < 1 || c.FPS > 120 || c.Width < 16 || c.Height < 16 || c.Seconds < 1 || c.BitrateKbps < 100 {
		return fmt.Errorf("loadtest: clip %+v: want 1-120 fps, at least 16x16, 1 s and 100 kbit/s", c)
	}
	return nil
}

// DefaultClip is the 2.5 Mbit/s 720p30 stream the benchmarks use.
func DefaultClip() ClipSpec {
	return ClipSpec{Width: 1280, Height: 720, FPS: 30, BitrateKbps: 2500, Seconds: 10}
}

// ErrNoFFmpeg: the clip has to be encoded once and ffmpeg is not installed.
var ErrNoFFmpeg = errors.New("loadtest: ffmpeg not found; install it (Debian: apt-get install ffmpeg) to encode the test clip once")

// LoadClip returns the clip for spec, encoding it with ffmpeg into cacheDir the first time.
// The encoding is what a WebRTC host sends: constrained baseline, no B-frames, a keyframe
// every second, SPS/PPS repeated before every keyframe.
func LoadClip(ctx context.Context, spec ClipSpec, cacheDir string) (*Clip, error) {
	name := fmt.Sprintf("testsrc2-%dx%d-%dfps-%dk-%ds.h264", spec.Width, spec.Height, spec.FPS, spec.BitrateKbps, spec.Seconds)
	path := filepath.Join(cacheDir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		if data, err = encodeClip(ctx, spec, path); err != nil {
			return nil, err
		}
	}
	aus := splitAccessUnits(data)
	if len(aus) < spec.FPS {
		return nil, fmt.Errorf("loadtest: clip %s has only %d frames; delete it to re-encode", path, len(aus))
	}
	clip := &Clip{FPS: spec.FPS, AUs: aus, Bytes: len(data)}
	for i, au := range aus {
		if isKeyAU(au) {
			clip.keys = append(clip.keys, i)
		}
	}
	if len(clip.keys) == 0 || clip.keys[0] != 0 {
		return nil, fmt.Errorf("loadtest: clip %s does not start with a keyframe; delete it to re-encode", path)
	}
	return clip, nil
}

func encodeClip(ctx context.Context, spec ClipSpec, path string) ([]byte, error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, ErrNoFFmpeg
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("loadtest: clip cache: %w", err)
	}
	kbps := strconv.Itoa(spec.BitrateKbps) + "k"
	tmp := path + ".tmp"
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", spec.Width, spec.Height, spec.FPS),
		"-t", strconv.Itoa(spec.Seconds),
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-b:v", kbps, "-maxrate", kbps, "-bufsize", kbps,
		"-g", strconv.Itoa(spec.FPS), "-bf", "0", "-x264-params", "repeat-headers=1",
		"-f", "h264", tmp}
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("loadtest: ffmpeg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

// splitNALs returns the NAL units of an Annex-B stream, without start codes.
func splitNALs(b []byte) [][]byte {
	var nals [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 { // 4-byte start code
					end--
				}
				nals = append(nals, b[start:end])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		nals = append(nals, b[start:])
	}
	return nals
}

// splitAccessUnits groups NAL units into access units: a new one starts at an AUD, SPS,
// PPS or SEI that follows a slice, or at a slice whose first_mb_in_slice is 0 (top bit of
// the byte after the NAL header) that follows a slice.
func splitAccessUnits(b []byte) [][]byte {
	var aus [][]byte
	var cur []byte
	hasSlice := false
	for _, nal := range splitNALs(b) {
		if len(nal) == 0 {
			continue
		}
		t := nal[0] & 0x1f
		isSlice := t == 1 || t == 5
		startsAU := hasSlice && (t == 6 || t == 7 || t == 8 || t == 9 || (isSlice && len(nal) > 1 && nal[1]&0x80 != 0))
		if startsAU {
			aus = append(aus, cur)
			cur, hasSlice = nil, false
		}
		cur = append(cur, 0, 0, 0, 1)
		cur = append(cur, nal...)
		hasSlice = hasSlice || isSlice
	}
	if hasSlice {
		aus = append(aus, cur)
	}
	return aus
}

// isKeyAU reports whether an access unit holds an IDR slice.
func isKeyAU(au []byte) bool {
	for _, nal := range splitNALs(au) {
		if len(nal) > 0 && nal[0]&0x1f == 5 {
			return true
		}
	}
	return false
}
