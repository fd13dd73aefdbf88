package sfu_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu/sfutest"
)

// The kernel side of the network-fault test: re-running it in a private network namespace
// and shaping the viewer's port there with tc netem.

// netemMissing says why netem cannot be tried here, "" when it can.
func netemMissing() string {
	if os.Geteuid() != 0 {
		return "not root"
	}
	for _, tool := range []string{"unshare", "tc", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not found"
		}
	}
	return ""
}

// reexecUnderNetem runs this test again in a fresh network namespace. It reports done when
// that run passed or failed (its output is logged), or why netem could not be had there.
func reexecUnderNetem(t *testing.T) (done bool, reason string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		return false, err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", `ip link set lo up && exec "$@"`, "netns",
		self, "-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsEnv+"=1")
	out, err := cmd.CombinedOutput()
	switch {
	case !bytes.Contains(out, []byte("=== RUN")): // the namespace was never made
		return false, fmt.Sprintf("unshare -n: %v: %s", err, bytes.TrimSpace(out))
	case bytes.Contains(out, []byte("--- SKIP")):
		return false, "in the namespace: " + lastLine(out, "netem")
	}
	t.Logf("in a private network namespace with tc netem:\n%s", out)
	if err != nil { // failed, or timed out
		t.Fatalf("the network-fault test failed under netem: %v", err)
	}
	return true, ""
}

// lastLine returns the last line of out that mentions what.
func lastLine(out []byte, what string) string {
	lines := strings.Split(string(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], what) {
			return strings.TrimSpace(lines[i])
		}
	}
	return "no reason given"
}

// netemLink shapes the viewer's port on lo with tc netem, in the private namespace the
// test re-executed itself in: a prio qdisc whose third band (netem) only the viewer's
// datagrams enter, so the publisher's link and the viewer's feedback stay clean.
type netemLink struct{ port int }

func newNetemLink(t *testing.T) *netemLink {
	t.Helper()
	// Only in a namespace we made: never shape a host interface.
	if err := tc("qdisc", "add", "dev", "lo", "root", "handle", "1:", "prio", "bands", "3",
		"priomap", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"); err != nil {
		t.Skipf("no prio qdisc, so no netem: %v", err)
	}
	if err := tc("qdisc", "add", "dev", "lo", "parent", netemParentBand, "handle", netemHandle, "netem", "delay", "0ms"); err != nil {
		t.Skipf("no netem in this kernel: %v", err)
	}
	return &netemLink{}
}

func (l *netemLink) viewerOptions() []sfutest.ViewerOption { return nil }

func (l *netemLink) attach(t *testing.T, v *sfutest.Viewer) {
	t.Helper()
	pair, err := v.PC.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		t.Fatalf("the viewer's candidate pair: %v", err)
	}
	l.port = int(pair.Local.Port)
	if err := tc("filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
		"match", "ip", "protocol", "17", "0xff", "match", "ip", "dport", strconv.Itoa(l.port), "0xffff", "flowid", netemParentBand); err != nil {
		t.Fatal(err)
	}
}

func (l *netemLink) set(t *testing.T, loss float64, delay, jitter time.Duration) {
	t.Helper()
	args := []string{"qdisc", "change", "dev", "lo", "parent", netemParentBand, "handle", netemHandle, "netem",
		"delay", fmt.Sprintf("%dms", delay.Milliseconds())}
	if jitter > 0 {
		args = append(args, fmt.Sprintf("%dms", jitter.Milliseconds()), "distribution", "normal")
	}
	args = append(args, "loss", fmt.Sprintf("%g%%", loss*100))
	if err := tc(args...); err != nil {
		t.Fatal(err)
	}
}

func (l *netemLink) lateBetween(time.Time, time.Time) time.Duration { return 0 }

func (l *netemLink) figures() string {
	out, _ := exec.Command("tc", "-s", "qdisc", "show", "dev", "lo", "parent", netemParentBand).CombinedOutput()
	return fmt.Sprintf("netem on port %d: %s", l.port, strings.Join(strings.Fields(string(out)), " "))
}

func tc(args ...string) error {
	if out, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("tc %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
