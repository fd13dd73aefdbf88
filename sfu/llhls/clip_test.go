package llhls

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// clipDir is this run's folder for encoded clips (TestMain makes and removes it).
var clipDir string

// clipSpec is one test encoding: testsrc at 30 fps, 3 s, a keyframe every 30 frames.
type clipSpec struct {
	width, height, kbps int
}

var (
	clipQ = clipSpec{320, 180, 300}
	clipH = clipSpec{640, 360, 700}
	clipF = clipSpec{1280, 720, 1500}
)

// clip is an encoded H.264 stream split into access units of NAL units (no start codes,
// no access unit delimiters), as a WebRTC host's packetizer sees its frames.
type clip struct {
	spec   clipSpec
	aus    [][][]byte
	annexB [][]byte // each AU again, Annex-B, for pion's payloader (a VP8 clip: its frames)
	vp8    bool     // VP8 frames (clip_vp8_test.go), no aus
	keys   []int    // indexes of the AUs holding an IDR
}

const (
	clipFPS     = 30
	clipSeconds = 3
	frameTicks  = 90000 / clipFPS
)

// clips are the encoded test clips, one per spec and codec, made once per run.
var clips sync.Map // clipKey -> *clipOnce

type clipKey struct {
	spec clipSpec
	vp8  bool
}

type clipOnce struct {
	once sync.Once
	c    *clip
	err  error
}

// requireFFmpeg skips (outside CI) or fails (in CI) when ffmpeg is missing.
func requireFFmpeg(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err == nil {
		return path
	}
	msg := "ffmpeg not found on PATH (Debian: apt-get install ffmpeg); the LL-HLS tests encode their H.264 source with it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// loadClip encodes spec once per test run (libx264 constrained to what a WebRTC host
// sends: baseline, no B-frames, zerolatency, SPS/PPS before every keyframe).
func loadClip(t testing.TB, spec clipSpec) *clip {
	t.Helper()
	return cachedClip(t, clipKey{spec: spec}, encodeClip)
}

// cachedClip encodes a clip with encode the first time key is asked for.
func cachedClip(t testing.TB, key clipKey, encode func(ffmpeg string, spec clipSpec) (*clip, error)) *clip {
	t.Helper()
	ffmpeg := requireFFmpeg(t)
	v, _ := clips.LoadOrStore(key, &clipOnce{})
	co := v.(*clipOnce)
	co.once.Do(func() { co.c, co.err = encode(ffmpeg, key.spec) })
	if co.err != nil {
		t.Fatal(co.err)
	}
	return co.c
}

func encodeClip(ffmpeg string, spec clipSpec) (*clip, error) {
	kbps := strconv.Itoa(spec.kbps) + "k"
	data, err := encodeTestsrc(ffmpeg, spec, "h264",
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
		"-b:v", kbps, "-maxrate", kbps, "-bufsize", kbps,
		"-g", strconv.Itoa(clipFPS), "-keyint_min", strconv.Itoa(clipFPS), "-sc_threshold", "0", "-bf", "0",
		"-x264-params", "repeat-headers=1:aud=1",
		"-f", "h264")
	if err != nil {
		return nil, err
	}
	return splitClip(spec, data)
}

// encodeTestsrc encodes clipSeconds of ffmpeg's testsrc at spec's size with the encoder
// arguments given and returns the file (named for spec, with extension ext).
func encodeTestsrc(ffmpeg string, spec clipSpec, ext string, encoder ...string) ([]byte, error) {
	path := filepath.Join(clipDir, fmt.Sprintf("testsrc-%dx%d.%s", spec.width, spec.height, ext))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%dx%d:rate=%d", spec.width, spec.height, clipFPS),
		"-t", strconv.Itoa(clipSeconds)}
	cmd := exec.CommandContext(ctx, ffmpeg, append(append(args, encoder...), path)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w: %s", err, stderr.String())
	}
	return os.ReadFile(path)
}

// splitClip cuts an Annex-B stream at its access unit delimiters.
func splitClip(spec clipSpec, data []byte) (*clip, error) {
	c := &clip{spec: spec}
	var cur [][]byte
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		if hasNALU(cur, 5) {
			c.keys = append(c.keys, len(c.aus))
		}
		b, err := h264.AnnexB(cur).Marshal()
		if err != nil {
			return err
		}
		c.aus = append(c.aus, cur)
		c.annexB = append(c.annexB, b)
		cur = nil
		return nil
	}
	for _, n := range splitAnnexB(data) {
		if len(n) == 0 {
			continue
		}
		if n[0]&0x1f == 9 { // access unit delimiter: a new frame
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		cur = append(cur, n)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(c.aus) < clipFPS*clipSeconds-1 || len(c.keys) < clipSeconds || c.keys[0] != 0 {
		return nil, fmt.Errorf("clip %dx%d: %d frames, keyframes at %v: want %d frames from a keyframe, one every %d",
			spec.width, spec.height, len(c.aus), c.keys, clipFPS*clipSeconds, clipFPS)
	}
	if sps := findNALU(c.aus[0], 7); sps == nil || findNALU(c.aus[0], 8) == nil {
		return nil, fmt.Errorf("clip %dx%d: the first keyframe has no SPS/PPS", spec.width, spec.height)
	}
	return c, nil
}

// splitAnnexB returns the NAL units of an Annex-B stream, without start codes (mediacommon's
// AnnexB.Unmarshal is for one access unit and refuses a whole stream).
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				for end > start && b[end-1] == 0 { // the zero of a 4-byte start code
					end--
				}
				out = append(out, b[start:end])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// nextKey is the first keyframe at or after i (wrapping).
func (c *clip) nextKey(i int) int {
	for _, k := range c.keys {
		if k >= i {
			return k
		}
	}
	return c.keys[0]
}
