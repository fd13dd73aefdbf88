package rtmp

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glintlive/glint/ingest/transcode"
	"github.com/glintlive/glint/sfu"
)

// TestOverloadFreezes measures, for docs/BENCHMARKS.md, what a viewer sees when the
// ladder is too heavy for the machine, with shedding off and on. It is opt-in
// (GLINT_OVERLOAD=1; run it without -race): it keeps both cores busy for two minutes.
//
// ffmpeg publishes a pre-encoded 1920x1080 60 fps High clip with B-frames (a copy, so the
// host itself costs nothing) in real time, looped, to the default ladder (1080p, 720p and
// 480p at x264 veryfast), which two cores cannot keep up with. A viewer capped at q (the
// rung never shed) counts freezes (over 200 ms between frames) from its first frame on.
func TestOverloadFreezes(t *testing.T) {
	if os.Getenv("GLINT_OVERLOAD") == "" {
		t.Skip("set GLINT_OVERLOAD=1 to measure a ladder too heavy for the machine (about two minutes)")
	}
	ffmpeg := requireFFmpeg(t)
	clip := filepath.Join(t.TempDir(), "clip.flv")
	if out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=60", "-f", "lavfi", "-i", "sine=sample_rate=48000",
		"-c:v", "libx264", "-profile:v", "high", "-bf", "3", "-g", "60", "-preset", "ultrafast", "-b:v", "6M",
		"-c:a", "aac", "-t", "10", clip).CombinedOutput(); err != nil {
		t.Fatalf("encode the clip: %v\n%s", err, out)
	}
	for _, c := range []struct {
		name string
		lag  time.Duration
	}{{"shedding off", -1}, {"shedding on", time.Second}} {
		t.Run(c.name, func(t *testing.T) {
			s := newTestSFU(t)
			srv := ladderServer(t, s, transcode.Config{Passthrough: transcode.PassthroughNever, OverloadLag: c.lag})
			v := newH264Viewer(t, s, "heavy", sfu.LayerLow)
			dropped, shedRung, shedPreset := droppedFrames(), shedCount("rung"), shedCount("preset")
			publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "heavy")), 50*time.Second,
				"-re", "-stream_loop", "-1", "-i", clip, "-c", "copy")
			time.Sleep(50 * time.Second)
			got := v.frames()
			if len(got) < 2 {
				t.Fatalf("%d frames at the viewer; %s", len(got), v.summary())
			}
			freezes, longest, total, ref := 0, time.Duration(0), time.Duration(0), got[0]
			for i := 1; i < len(got); i++ {
				if gap := got[i].at.Sub(got[i-1].at); gap > 200*time.Millisecond {
					freezes++
					longest, total, ref = max(longest, gap), total+gap, got[i]
				}
			}
			span := got[len(got)-1].at.Sub(got[0].at)
			// How much later the last frames arrive against their media time than the first
			// frame after the last freeze did: the delay a ladder falling behind adds (a
			// restart splices its timestamps onto the old, so count from after it).
			behind := time.Duration(0)
			for _, f := range got {
				if f.at.After(got[len(got)-1].at.Add(-time.Second)) {
					media := time.Duration(int64(f.ts-ref.ts)) * time.Second / 90000
					behind = max(behind, f.at.Sub(ref.at)-media)
				}
			}
			t.Logf("%s: %d frames over %v (%.1f fps); %d freezes over 200 ms, %v frozen, longest %v; delay added since the last freeze %v; input frames dropped %v; shed: preset %v, rungs %v",
				c.name, len(got), span.Round(time.Millisecond), float64(len(got))/span.Seconds(), freezes, total.Round(time.Millisecond),
				longest.Round(time.Millisecond), behind.Round(time.Millisecond), droppedFrames()-dropped, shedCount("preset")-shedPreset, shedCount("rung")-shedRung)
		})
	}
}

var transcodeMetrics = sync.OnceValue(func() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(transcode.Collectors()...)
	return r
})

// transcodeCounter reads a counter of package transcode (summed over its labels, or the
// one whose action label is action).
func transcodeCounter(name, action string) float64 {
	families, _ := transcodeMetrics().Gather()
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "action" && l.GetValue() != action {
					goto next
				}
			}
			sum += m.GetCounter().GetValue()
		next:
		}
	}
	return sum
}

func droppedFrames() float64 {
	return transcodeCounter("glint_transcode_input_frames_dropped_total", "")
}

func shedCount(action string) float64 { return transcodeCounter("glint_transcode_sheds_total", action) }
