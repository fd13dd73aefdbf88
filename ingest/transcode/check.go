package transcode

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Check resolves the ffmpeg path and checks it has libx264 and libopus; the error tells the
// user how to get ffmpeg ("apt-get install ffmpeg"). RTMP ingest calls it at start-up.
func Check(ffmpeg string) (path string, err error) {
	path, err = lookFFmpeg(ffmpeg)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "-hide_banner", "-nostdin", "-encoders").Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s -encoders: %w", ErrNoFFmpeg, path, err)
	}
	var missing []string
	for _, enc := range []string{"libx264", "libopus"} {
		if !hasEncoder(string(out), enc) {
			missing = append(missing, enc)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: %s has no %s", ErrMissingEncoder, path, strings.Join(missing, " or "))
	}
	return path, nil
}

// hasEncoder finds an encoder's name in `ffmpeg -encoders` output, whose lines read
// " V....D libx264   libx264 H.264 / AVC ...".
func hasEncoder(list, name string) bool {
	for _, line := range strings.Split(list, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] == name {
			return true
		}
	}
	return false
}
