package llhls

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"testing"
)

// loadVP8Clip encodes spec in VP8 (libvpx, realtime, a keyframe a second, no alt-ref
// frames: what a browser sends) once per test run. Its frames are in annexB (the payloader's
// input) and aus is empty.
func loadVP8Clip(t testing.TB, spec clipSpec) *clip {
	t.Helper()
	return cachedClip(t, clipKey{spec: spec, vp8: true}, encodeVP8Clip)
}

func encodeVP8Clip(ffmpeg string, spec clipSpec) (*clip, error) {
	data, err := encodeTestsrc(ffmpeg, spec, "ivf",
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", strconv.Itoa(spec.kbps)+"k",
		"-g", strconv.Itoa(clipFPS), "-keyint_min", strconv.Itoa(clipFPS), "-auto-alt-ref", "0", "-lag-in-frames", "0",
		"-f", "ivf")
	if err != nil {
		return nil, err
	}
	c := &clip{spec: spec, vp8: true}
	if len(data) < ivfHeaderLen || string(data[:4]) != "DKIF" {
		return nil, fmt.Errorf("VP8 clip %dx%d: not IVF", spec.width, spec.height)
	}
	for b := data[ivfHeaderLen:]; len(b) >= ivfFrameHeaderLen; {
		n := int(binary.LittleEndian.Uint32(b))
		if len(b) < ivfFrameHeaderLen+n {
			return nil, fmt.Errorf("VP8 clip %dx%d: truncated frame", spec.width, spec.height)
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
