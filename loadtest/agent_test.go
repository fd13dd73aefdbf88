package loadtest

import (
	"bytes"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFanoutMeasuresAcrossProcesses is TestFanoutMeasuresInjectedDelay with the viewers in
// two agent processes, pinned to a CPU each: the merged report must show the server's
// 60 ms hold, every viewer, every frame once and no loss, as one process would.
func TestFanoutMeasuresAcrossProcesses(t *testing.T) {
	needFFmpeg(t)
	const delay = 60 * time.Millisecond
	srv := newFakeServer(t, delay, 0)
	cpus := allowedCPUs(t)
	s := runFanout(t, srv, func(c *FanoutConfig) {
		c.Procs, c.CPUs = 2, [][]int{{cpus[0]}, {cpus[len(cpus)-1]}}
		c.AgentCommand, c.AgentEnv = []string{os.Args[0]}, []string{agentEnv}
	})
	if s.Connected != measureViewers || s.Failed != 0 {
		t.Fatalf("connected %d, failed %d; want %d, 0", s.Connected, s.Failed, measureViewers)
	}
	if lo, hi := msf(delay), msf(delay)+25; s.LatencyP50 < lo || s.LatencyP50 > hi || s.LatencyKeyP50 < lo {
		t.Errorf("latency p50 %.2f ms, keyframes %.2f ms: want within [%.0f, %.0f]", s.LatencyP50, s.LatencyKeyP50, lo, hi)
	}
	want := float64(DefaultClip().FPS) * 3 * measureViewers
	if f := float64(s.Frames); f < want/2 || f > want*1.2 {
		t.Errorf("frames = %d, want about %.0f: each agent's frames counted once", s.Frames, want)
	}
	if s.LossPercent != 0 || s.Packets == 0 || s.ClientCPU <= 0 {
		t.Errorf("loss %.3f%%, packets %d, client CPU %.1f%%: want 0, some, some", s.LossPercent, s.Packets, s.ClientCPU)
	}
}

// TestStartPinned: a child started pinned runs on exactly those CPUs from its start, and
// the parent's own affinity is left as it was.
func TestStartPinned(t *testing.T) {
	cpus := allowedCPUs(t)
	before := allowedList(t, "self")
	pin := cpus[len(cpus)-1]
	var out bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", "grep Cpus_allowed_list /proc/self/status")
	cmd.Stdout = &out
	if err := startPinned(cmd, []int{pin}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(strings.TrimPrefix(out.String(), "Cpus_allowed_list:")); got != strconv.Itoa(pin) {
		t.Fatalf("child ran on CPUs %q, want %d", got, pin)
	}
	if after := allowedList(t, "self"); after != before {
		t.Fatalf("this process's CPUs changed from %q to %q", before, after)
	}
}

func TestParseCPUSets(t *testing.T) {
	got, err := ParseCPUSets("2-4/6, 8")
	if err != nil || !reflect.DeepEqual(got, [][]int{{2, 3, 4}, {6, 8}}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := ParseCPUSets(""); got != nil || err != nil {
		t.Fatalf("empty: got %v, %v", got, err)
	}
	for _, bad := range []string{"a", "3-1", "-1", "1-", "1//2", "5000"} {
		if _, err := ParseCPUSets(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// allowedCPUs lists the CPUs this process may run on.
func allowedCPUs(t *testing.T) []int {
	t.Helper()
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	var cpus []int
	for c := range 1024 {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

func allowedList(t *testing.T, pid string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no Cpus_allowed_list")
	return ""
}
