package thumbnail

import (
	"bytes"
	"encoding/binary"
	"image/jpeg"
	"os"
	"os/exec"
	"testing"

	"go.uber.org/zap"
)

// needFFmpeg returns ffmpeg's path; without it the test fails in CI (CI=true) and is
// skipped, saying why, elsewhere.
func needFFmpeg(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("ffmpeg is not on PATH; CI must install it (.ci/run does)")
	}
	t.Skip("skipping: ffmpeg is not on PATH (Debian: apt-get install ffmpeg)")
	return ""
}

// encodeOne has ffmpeg encode one 640x360 keyframe of a test pattern with codec into
// format, and returns the bytes.
func encodeOne(t *testing.T, ffmpeg, codec, format string) []byte {
	t.Helper()
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
		"-frames:v", "1", "-c:v", codec, "-pix_fmt", "yuv420p", "-f", format, "pipe:1").Output()
	if err != nil {
		t.Fatalf("encoding a %s keyframe: %v", codec, err)
	}
	return out
}

// TestEncodeKeyframes: a keyframe as the grab hands it over, H.264 in Annex-B and VP8
// re-wrapped by ivf, becomes a JPEG Width pixels wide with the source's aspect ratio.
func TestEncodeKeyframes(t *testing.T) {
	ffmpeg := needFFmpeg(t)
	m := &Maker{ffmpeg: ffmpeg, log: zap.NewNop()}

	h264 := encodeOne(t, ffmpeg, "libx264", "h264")
	// The VP8 frame as RTP depacketization yields it: the IVF file's first frame, without
	// the file's header (32 bytes) and the frame's (12).
	file := encodeOne(t, ffmpeg, "libvpx", "ivf")
	if len(file) < 44 || string(file[:4]) != "DKIF" {
		t.Fatalf("ffmpeg's VP8 is not IVF (%d bytes)", len(file))
	}
	n := binary.LittleEndian.Uint32(file[32:])
	vp8 := file[44 : 44+n]

	for _, c := range []struct {
		name, format string
		frame        []byte
	}{{"h264", "h264", h264}, {"vp8", "ivf", ivf(vp8)}} {
		t.Run(c.name, func(t *testing.T) {
			out, err := m.encode(c.frame, c.format)
			if err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("not a JPEG: %v", err)
			}
			if b := img.Bounds(); b.Dx() != Width || b.Dy() != 270 {
				t.Errorf("thumbnail %dx%d, want %dx270", b.Dx(), b.Dy(), Width)
			}
		})
	}
	if _, err := m.encode([]byte("not a picture"), "h264"); err == nil {
		t.Error("ffmpeg made a JPEG of garbage")
	}
}
