package signaling_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/glintlive/glint/signaling"
)

// webhookChild is a server process (see runWebhookChild) seen from the test.
type webhookChild struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan struct{}
}

func startWebhookChild(t *testing.T, dir, url string) *webhookChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), signaling.WebhookChildDirEnv+"="+dir, signaling.WebhookChildURLEnv+"="+url)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &webhookChild{t: t, cmd: cmd, in: in, lines: make(chan string, 100), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(c.kill)
	c.want("ready")
	return c
}

func (c *webhookChild) want(line string) {
	c.t.Helper()
	select {
	case got := <-c.lines:
		if got != line {
			c.t.Fatalf("child said %q, want %q", got, line)
		}
	case <-time.After(30 * time.Second):
		c.t.Fatalf("child did not say %q within 30s", line)
	}
}

// give has the child take a gift and waits until it is durable.
func (c *webhookChild) give(key string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, key+"\n"); err != nil {
		c.t.Fatal(err)
	}
	c.want("ack " + key)
}

func (c *webhookChild) kill() {
	_ = c.cmd.Process.Kill() // SIGKILL: nothing is flushed or closed
	<-c.done
}

// TestGiftWebhookSIGKILL: gifts acked while the backend is down survive a SIGKILL of the
// server; the next server on the same data directory delivers every one of them.
func TestGiftWebhookSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	backend := newHookBackend(t, func(int) int { return http.StatusBadGateway })
	dir := t.TempDir()
	first := startWebhookChild(t, dir, backend.srv.URL)
	keys := []string{"a", "b", "c", "d", "e"}
	for _, k := range keys {
		first.give(k)
	}
	backend.waitUntil(10*time.Second, "refused attempts", func(a []hookAttempt) bool { return len(a) >= 2 })
	first.kill()
	if n := len(backend.accepted()); n != 0 {
		t.Fatalf("%d gifts accepted by a backend that is down", n)
	}
	backend.setStatus(func(int) int { return http.StatusOK })
	second := startWebhookChild(t, dir, backend.srv.URL)
	backend.waitAccepted(30*time.Second, eventIDs("show", "alice", keys...))
	_ = second.in.Close() // a clean exit this time
	select {
	case <-second.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the second server did not exit within 30s of its stdin closing")
	}
}
