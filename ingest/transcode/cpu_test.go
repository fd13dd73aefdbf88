package transcode

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestMeasureLadderCPU measures what one host's ladder costs: ffmpeg's CPU from
// /proc/<pid>/stat over a steady stretch of a live-paced source, and this process's own CPU
// (muxing, sockets, passthrough packetizing; also the test's feeder and readers), plus the
// frame rate that came out, which shows whether the ladder keeps real time.
// It takes about 90 s and saturates the machine, so it runs only when asked:
//
//	GLINT_MEASURE_CPU=1 go test -run TestMeasureLadderCPU -v ./ingest/transcode/
func TestMeasureLadderCPU(t *testing.T) {
	if os.Getenv("GLINT_MEASURE_CPU") == "" {
		t.Skip("set GLINT_MEASURE_CPU=1 to measure the ladder's CPU (about 90 s)")
	}
	ffmpeg := needFFmpeg(t)
	const warmup, window = 4 * time.Second, 20 * time.Second
	for _, tc := range []struct {
		name string
		spec fixtureSpec
		cfg  Config
	}{
		{"720p30 -> 720/480 ladder", fixtureSpec{width: 1280, height: 720, fps: 30, seconds: 10, profile: "baseline", audio: true}, Config{Passthrough: PassthroughNever}},
		{"1080p30 -> 1080/720/480 ladder", fixtureSpec{width: 1920, height: 1080, fps: 30, seconds: 10, profile: "baseline", audio: true}, Config{Passthrough: PassthroughNever}},
		{"720p30 passthrough (+ AAC->Opus)", fixtureSpec{width: 1280, height: 720, fps: 30, seconds: 10, profile: "baseline", audio: true}, Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := makeFixture(t, ffmpeg, tc.spec)
			l, err := Start(context.Background(), tc.cfg, fx.src, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			var cs []*collector
			for _, tr := range l.Tracks() {
				cs = append(cs, collect(tr))
			}
			stop, fed := make(chan struct{}), make(chan struct{})
			fedStart := time.Now()
			go func() { defer close(fed); feed(t, l, fx, 10, stop, fedStart) }()
			time.Sleep(warmup)
			pid := l.FFmpegPID()
			drop0 := counterValue(inputDropped)
			ff0, self0, frames0, t0 := cpuTicks(pid), cpuTicks(os.Getpid()), markers(cs[0]), time.Now()
			time.Sleep(window)
			ff1, self1, frames1, t1 := cpuTicks(pid), cpuTicks(os.Getpid()), markers(cs[0]), time.Now()
			dropped := counterValue(inputDropped) - drop0
			lat := cs[0].latency(fedStart.Add(fx.firstVideo()), t0, t1)
			load, _ := os.ReadFile("/proc/loadavg")
			close(stop)
			<-fed
			l.Close()
			for _, c := range cs {
				c.wait(t)
			}
			if l.FFmpegPID() != 0 || (pid != 0 && ff1 < ff0) {
				t.Fatalf("ffmpeg restarted during the measurement")
			}
			secs := t1.Sub(t0).Seconds()
			const hz = 100 // USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s on Linux
			ffPct := float64(ff1-ff0) / hz / secs * 100
			selfPct := float64(self1-self0) / hz / secs * 100
			fps := float64(frames1-frames0) / secs
			t.Logf("RESULT %-34s ffmpeg %5.1f%% of a core, glint process %5.1f%%, top layer %.1f fps out over %.0f s, median latency %v, %v input frames dropped (loadavg %s)",
				tc.name, ffPct, selfPct, fps, secs, lat.Round(time.Millisecond), dropped, strings.Join(strings.Fields(string(load))[:3], " "))
			if fps < 27 {
				t.Errorf("%.1f fps out of a 30 fps source: the ladder does not keep real time", fps)
			}
		})
	}
}

// markers counts frames (marker bits) a video collector has received.
func markers(c *collector) int {
	n := 0
	for _, p := range c.packets() {
		if p.Marker {
			n++
		}
	}
	return n
}

// cpuTicks is utime+stime of pid in clock ticks, 0 if it cannot be read.
func cpuTicks(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// After the comm field: state(0) ppid(1) ... utime(11) stime(12).
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}
