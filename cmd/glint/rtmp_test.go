package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestServeRTMPWithoutFFmpeg: on a machine without ffmpeg the server starts, RTMP refuses
// publishes saying why (an encoder other than ffmpeg would get the same onStatus; ffmpeg
// itself plays the encoder here), and the rest of the server keeps working.
func TestServeRTMPWithoutFFmpeg(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	cfg := testConfig(t)
	cfg.RTMP.Transcode.FFmpeg = "/nonexistent/ffmpeg"
	a, stop := startApp(t, cfg)
	defer stop()
	url := fmt.Sprintf("rtmp://%s/live/%s", a.rtmp.Addr(), mustToken(t, cfg, "show"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
		"-t", "5", "-c:v", "libx264", "-profile:v", "baseline", "-f", "flv", url).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no transcoder (ffmpeg) available") || !strings.Contains(string(out), "apt-get install ffmpeg") {
		t.Fatalf("publish without ffmpeg: %v\n%s", err, out)
	}
	res, err := http.Get(a.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("healthz %d", res.StatusCode)
	}
	res, err = http.Get(a.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	for _, want := range []string{`glint_rtmp_refusals_total{reason="no_transcoder"}`, "glint_rtmp_connections_total", "glint_rtmp_publishes_total",
		"glint_sfu_fanout_load_max", "glint_sfu_cpu_load"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
