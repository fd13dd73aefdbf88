package rtmp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

const testKey, testSecret = "devkey", "secret"

func newTestSFU(t *testing.T) *sfu.SFU {
	t.Helper()
	cfg := sfu.DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.KeyframeInterval = 100 * time.Millisecond
	s, err := sfu.New(cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testVerifier(t *testing.T) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(map[string]string{testKey: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.RTMPSAddr = "127.0.0.1:0"
	cfg.HandshakeTimeout = 5 * time.Second
	cfg.ReadTimeout = 5 * time.Second
	return cfg
}

// startServer runs an RTMP server for the test on a free loopback port; it is closed
// (and every session with it) when the test ends, before the SFU.
func startServer(t *testing.T, cfg Config, opts Options) *Server {
	t.Helper()
	if opts.Verifier == nil {
		opts.Verifier = testVerifier(t)
	}
	srv, err := New(cfg, opts, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func testLogger() *zap.Logger { return sfutest.Logger() }

func token(t *testing.T, o auth.TokenOptions) string {
	t.Helper()
	if o.Identity == "" {
		o.Identity = "host"
	}
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	tok, err := auth.Issue(testKey, testSecret, o)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func publishToken(t *testing.T, room string) string {
	return token(t, auth.TokenOptions{Room: room, Publish: true})
}

// requireFFmpeg skips outside CI and fails in CI when ffmpeg is missing: the RTMP tests
// need a real encoder on the other end.
func requireFFmpeg(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err == nil {
		return path
	}
	msg := "ffmpeg not found on PATH (apt-get install ffmpeg); the RTMP tests publish with it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// encoder is an ffmpeg process publishing over RTMP.
type encoder struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 64<<10 {
		return len(p), nil // enough to diagnose; ffmpeg's progress lines would grow it forever
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Encoder settings the tests publish with. -re paces input in real time as a camera would.
var (
	baselineArgs = []string{"-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "64k"}
	// The issue's command line (x264's default preset: a real High-profile stream with
	// B-frames, as OBS makes with its "high" profile and b-frames setting).
	highBFramesArgs = []string{"-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine",
		"-c:v", "libx264", "-profile:v", "high", "-bf", "3", "-g", "30", "-c:a", "aac"}
)

// publishFFmpeg starts ffmpeg publishing to url for at most limit; the test's cleanup
// kills it if it is still running.
func publishFFmpeg(t *testing.T, url string, limit time.Duration, args ...string) *encoder {
	t.Helper()
	ffmpeg := requireFFmpeg(t)
	all := append([]string{"-hide_banner", "-loglevel", "info", "-nostats", "-nostdin"}, args...)
	all = append(all, "-t", fmt.Sprintf("%.0f", limit.Seconds()), "-f", "flv", url)
	e := &encoder{out: &lockedBuffer{}, done: make(chan struct{})}
	e.cmd = exec.Command(ffmpeg, all...)
	e.cmd.Stdout, e.cmd.Stderr = io.Discard, e.out
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		e.err = e.cmd.Wait()
		close(e.done)
	}()
	t.Cleanup(e.kill)
	return e
}

// kill stops the encoder at once, as a crashed OBS or a pulled cable would (no RTMP
// goodbye), and waits for it.
func (e *encoder) kill() {
	_ = e.cmd.Process.Kill()
	<-e.done
}

// wait waits for ffmpeg to exit and returns its error and output.
func (e *encoder) wait(t *testing.T, d time.Duration) (error, string) {
	t.Helper()
	select {
	case <-e.done:
		return e.err, e.out.String()
	case <-time.After(d):
		e.kill()
		t.Fatalf("ffmpeg still running after %s:\n%s", d, e.out.String())
		return nil, ""
	}
}

func (e *encoder) exited() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

func rtmpURL(srv *Server, app, key string) string {
	return fmt.Sprintf("rtmp://%s/%s/%s", srv.Addr(), app, key)
}

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contextFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// refusals is the refusal counter for a reason.
func refusals(why string) float64 { return counterValue(refusalsTotal.WithLabelValues(why)) }

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
