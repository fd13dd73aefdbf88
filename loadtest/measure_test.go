package loadtest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// These tests check the measuring itself: Fanout runs against fakeServer, whose delay and
// loss are known, and the report must show them. Each run takes about 6 s; they run one
// after the other, never in parallel, to leave the machine's other cores alone.

const measureViewers = 2

// TestFanoutMeasuresInjectedDelay: a relay that holds every packet for 60 ms and loses
// nothing must be reported as 60 ms of latency (plus a little for loopback and packetising,
// never less) and 0% loss, at the clip's bitrate per viewer.
func TestFanoutMeasuresInjectedDelay(t *testing.T) {
	needFFmpeg(t)
	const delay = 60 * time.Millisecond
	srv := newFakeServer(t, delay, 0)
	s := runFanout(t, srv)

	if s.Connected != measureViewers || s.Failed != 0 {
		t.Fatalf("connected %d, failed %d; want %d, 0", s.Connected, s.Failed, measureViewers)
	}
	// Latency runs from the SEI's send time, stamped before the frame is packetised, to the
	// marker packet's arrival, so the server's hold is a hard floor. The slack above it is
	// what a loaded 2-core machine under -race adds at the median (typically 1–5 ms).
	// Measured from any later point (the first packet's arrival, the server's receipt) the
	// figure would fall below 60.
	if lo, hi := msf(delay), msf(delay)+25; s.LatencyP50 < lo || s.LatencyP50 > hi {
		t.Errorf("latency p50 = %.2f ms, want within [%.0f, %.0f]", s.LatencyP50, lo, hi)
	}
	if s.LatencyMax < s.LatencyP50 || s.LatencyP99 < s.LatencyP50 {
		t.Errorf("latency p99 %.2f / max %.2f below p50 %.2f", s.LatencyP99, s.LatencyMax, s.LatencyP50)
	}
	// The read loop's figure (arrival plus the client's queue) has the same floor. It is
	// not compared with the arrival p99: the two histograms are read one after the other
	// while viewers go on recording, so their counts differ by a frame or two.
	if s.ReadP99 < msf(delay) {
		t.Errorf("read p99 %.2f ms below the server's hold of %.0f ms", s.ReadP99, msf(delay))
	}
	// Nothing is lost here, so every frame is timed by its kernel stamps, none at the read.
	if s.Unstamped != 0 {
		t.Errorf("%d of %d frames had no arrival stamp (timed at the read loop instead)", s.Unstamped, s.Frames)
	}
	// Keyframes (a 3 s step holds two or three per viewer) and other frames are reported
	// apart; both are held the same 60 ms, and neither kind may be missing.
	for name, v := range map[string]float64{"keyframe p50": s.LatencyKeyP50, "keyframe p99": s.LatencyKeyP99, "delta-frame p99": s.LatencyDeltaP99} {
		if v < msf(delay) || v > s.LatencyMax {
			t.Errorf("%s latency = %.2f ms, want within [%.0f, max %.2f]", name, v, msf(delay), s.LatencyMax)
		}
	}
	if s.LossPercent != 0 || s.LostPackets != 0 {
		t.Errorf("loss = %.3f%% (%d packets), want none: the server dropped nothing", s.LossPercent, s.LostPackets)
	}

	// Every frame is counted once per viewer: 30 fps for the 3 s step. Half of that allows
	// for a stalled machine; more than 1.2× would mean frames counted twice.
	clip := DefaultClip()
	want := float64(clip.FPS) * 3 * measureViewers
	if f := float64(s.Frames); f < want/2 || f > want*1.2 {
		t.Errorf("frames = %d, want about %.0f", s.Frames, want)
	}
	// Throughput is the clip's real bitrate (what the encoder produced, not its target) per
	// viewer; RTP headers, the SEI and silent Opus add about 3%. The band is wide because a
	// 3 s window holds three keyframes or two depending on where it falls.
	loaded, err := LoadClip(context.Background(), clip, clipCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	clipMbps := float64(loaded.Bytes) * 8 / float64(clip.Seconds) / 1e6
	if lo, hi := 0.6*clipMbps*measureViewers, 1.6*clipMbps*measureViewers; s.Mbps < lo || s.Mbps > hi {
		t.Errorf("throughput = %.2f Mbit/s, want %.2f–%.2f (clip %.2f Mbit/s × %d viewers)", s.Mbps, lo, hi, clipMbps, measureViewers)
	}
}

// TestFanoutMeasuresInjectedLoss: a relay that drops every 20th video packet, with no
// retransmission, must be reported as 5% loss.
func TestFanoutMeasuresInjectedLoss(t *testing.T) {
	needFFmpeg(t)
	const dropEvery = 20
	srv := newFakeServer(t, 0, dropEvery)
	s := runFanout(t, srv)

	if s.Connected != measureViewers || s.Failed != 0 {
		t.Fatalf("connected %d, failed %d; want %d, 0", s.Connected, s.Failed, measureViewers)
	}
	if srv.dropped.Load() == 0 {
		t.Fatal("the fake server dropped nothing")
	}
	// Each viewer's lossTracker expects every sequence number from the first it saw to the
	// highest, and the server removed exactly one in every 20 consecutive ones: 5.000% of
	// any long run. The step figure is taken between two snapshots, and each snapshot can
	// fall just before or after a gap, so it may be off by two dropped packets per viewer
	// out of about 3 s × ~280 video packets/s ≈ 850 expected per viewer: ±0.25 points. The
	// ±1 point band leaves room for a few packets really lost on a loaded loopback while
	// still failing a tracker that ignores gaps (0%) or counts a gap twice (10%).
	if s.LossPercent < 4 || s.LossPercent > 6 {
		t.Errorf("loss = %.3f%%, want 5%% (4–6): the server dropped 1 video packet in %d", s.LossPercent, dropEvery)
	}
	if s.LostPackets == 0 {
		t.Error("no lost packets reported")
	}
	// Without a hold, loopback latency is a few milliseconds: with the other test, this shows
	// the latency figure moves with the server's delay rather than sitting at a constant.
	if s.LatencyP50 > 25 {
		t.Errorf("latency p50 = %.2f ms with no injected delay, want under 25", s.LatencyP50)
	}
}

// runFanout runs one 3 s step of measureViewers viewers against srv and returns it;
// tune, when given, changes the run's settings first.
func runFanout(t *testing.T, srv *fakeServer, tune ...func(*FanoutConfig)) StepResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := FanoutConfig{
		WHIP:            srv.URL + "/whip",
		WHEP:            srv.URL + "/whep",
		Steps:           []int{measureViewers},
		Duration:        3 * time.Second,
		Clip:            DefaultClip(),
		CacheDir:        clipCacheDir(),
		JoinConcurrency: 2,
	}
	for _, f := range tune {
		f(&cfg)
	}
	rep, err := Fanout(ctx, cfg)
	if err != nil {
		t.Fatalf("Fanout: %v", err)
	}
	if len(rep.Steps) != 1 || rep.ClientProcs != max(1, cfg.Procs) {
		t.Fatalf("got %d steps from %d processes, want 1 from %d", len(rep.Steps), rep.ClientProcs, max(1, cfg.Procs))
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("fake server: delay %s, drop every %d (dropped %d)\n%s", srv.delay, srv.dropEvery, srv.dropped.Load(), table.String())
	return rep.Steps[0]
}

// needFFmpeg skips a test that needs ffmpeg to encode the clip when it is not installed,
// except in CI (CI=true), where a missing ffmpeg must fail loudly rather than hide the tests.
func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("ffmpeg is not on PATH; CI must install it (.ci/run does: apt-get install ffmpeg)")
	}
	t.Skip("skipping: ffmpeg is not on PATH and is needed to encode the test clip (Debian: apt-get install ffmpeg)")
}

// clipCacheDir is where `glint loadtest` keeps its clip, so the ~10 s encode happens once
// per machine, not once per test run.
func clipCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "glint", "loadtest")
}
