package rtmp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/handshake"

	"github.com/glintlive/glint/sfu"
)

// TestHostileConnections: while a host publishes, the RTMP port gets random bytes, a
// handshake cut off halfway, a connection that never speaks and one that closes at once.
// Each is dropped within the handshake timeout, nothing crashes or leaks (goleak checks
// the package), and the host's viewer keeps decoding throughout.
func TestHostileConnections(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	cfg := testConfig()
	cfg.HandshakeTimeout = 500 * time.Millisecond
	srv := startServer(t, cfg, Options{SFU: s, Ladder: l.start})
	ctx := contextFor(t, 40*time.Second)

	v := newH264Viewer(t, s, "show", sfu.LayerFull)
	enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 30*time.Second, baselineArgs...)
	if err := v.waitFrames(ctx, 0, 15, 640, 360); err != nil {
		t.Fatalf("%v\nffmpeg:\n%s", err, enc.out.String())
	}

	noise := make([]byte, 64<<10)
	_, _ = rand.Read(noise)
	c0c1 := append([]byte{3}, make([]byte, 1536)...)
	attacks := map[string]func(net.Conn){
		"random bytes":        func(c net.Conn) { _, _ = c.Write(noise) },
		"random after C0":     func(c net.Conn) { _, _ = c.Write(append([]byte{3}, noise[:4000]...)) },
		"truncated handshake": func(c net.Conn) { _, _ = c.Write(c0c1[:700]) },
		"silent":              func(net.Conn) {},
	}
	start := time.Now()
	done := make(chan string, len(attacks)*3)
	for range 3 {
		for name, attack := range attacks {
			c, err := net.Dial("tcp", srv.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				defer c.Close()
				attack(c)
				// The server must close its end: reads then end with EOF or a reset.
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := io.Copy(io.Discard, c)
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					done <- name + ": still open after 5 s"
					return
				}
				done <- ""
			}()
		}
		// A client that connects and leaves at once.
		if c, err := net.Dial("tcp", srv.Addr().String()); err == nil {
			_ = c.Close()
		}
	}
	for range len(attacks) * 3 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("hostile connections took %s to be dropped (handshake timeout %s)", d, cfg.HandshakeTimeout)
	}
	// The host was not disturbed: its viewer keeps getting frames.
	if err := v.waitFrames(ctx, len(v.frames()), 30, 640, 360); err != nil {
		t.Fatalf("host disturbed: %v", err)
	}
	if enc.exited() {
		t.Fatalf("the host's ffmpeg exited:\n%s", enc.out.String())
	}
	waitFor(t, 2*time.Second, "only the host's connection left open", func() bool { return srv.openConns() == 1 })
}

// TestConnectionLimit: with max_connections 2 taken by idle clients, an encoder is turned
// away at once; when they leave, it gets in.
func TestConnectionLimit(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	cfg := testConfig()
	cfg.MaxConnections = 2
	srv := startServer(t, cfg, Options{SFU: s, Ladder: l.start})
	idle := dialIdle(t, srv, 2)
	before := refusals("connection_limit")
	enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 10*time.Second, baselineArgs...)
	if err, out := enc.wait(t, 15*time.Second); err == nil {
		t.Fatalf("ffmpeg published past the limit:\n%s", out)
	}
	if got := refusals("connection_limit"); got != before+1 {
		t.Errorf("connection_limit refusals %v, want %v", got, before+1)
	}
	closeAll(t, srv, idle)
	ctx := contextFor(t, 30*time.Second)
	v := newH264Viewer(t, s, "show", sfu.LayerFull)
	enc = publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 20*time.Second, baselineArgs...)
	if err := v.waitFrames(ctx, 0, 10, 640, 360); err != nil {
		t.Fatalf("%v\nffmpeg:\n%s", err, enc.out.String())
	}
}

// TestPreAuthBudget: after a valid handshake, a client announces a 10 MB connect command
// and keeps sending it. gortmplib would buffer it all; the server instead drops the
// client once it has sent more than a handshake's worth without being authorised, long
// before the handshake timeout.
func TestPreAuthBudget(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	cfg := testConfig()
	cfg.HandshakeTimeout = 10 * time.Second
	srv := startServer(t, cfg, Options{SFU: s, Ladder: l.start})
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := handshake.DoClient(c, false, false); err != nil {
		t.Fatal(err)
	}
	// Chunk type 0 on chunk stream 3: timestamp 0, body length 0x9fffff, AMF0 command, stream 0.
	header := []byte{0x03, 0, 0, 0, 0x9f, 0xff, 0xff, 0x14, 0, 0, 0, 0}
	if _, err := c.Write(append(header, make([]byte, 128)...)); err != nil { // with the first 128 bytes of body
		t.Fatal(err)
	}
	start := time.Now()
	chunk := append([]byte{0xc3}, make([]byte, 128)...) // type-3 continuation chunks of 128 bytes
	sent := 0
	var werr error
	for sent < 8<<20 && werr == nil {
		_, werr = c.Write(chunk)
		sent += len(chunk)
	}
	if werr == nil {
		t.Fatalf("the server read %d bytes of an unauthorised connect", sent)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("dropped after %s, want well before the handshake timeout", d)
	}
	if sent > 4<<20 {
		t.Errorf("%d bytes went out before the connection broke", sent)
	}
}

// TestUnauthenticatedEviction: connections that have not presented a stream key are capped
// in total and per address (each may make gortmplib reserve up to 10 MiB), but a newcomer
// past a cap is not refused: it evicts the stalled connection that got least far, the
// oldest first, of its own address when that address is at its cap. Evictions are counted.
// Once the silent ones go, an encoder publishes, and a publishing host no longer counts.
func TestUnauthenticatedEviction(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	cfg := testConfig()
	cfg.MaxUnauthenticated = 3
	cfg.MaxUnauthenticatedPerAddress = 2
	srv := startServer(t, cfg, Options{SFU: s, Ladder: l.start})
	before := refusals("evicted")

	// The oldest connection has finished the RTMP handshake, then stalls.
	shook := dialFrom(t, srv, "127.0.0.2")
	_ = shook.SetDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := handshake.DoClient(shook, false, false); err != nil {
		t.Fatal(err)
	}
	a1, a2 := dialFrom(t, srv, "127.0.0.1"), dialFrom(t, srv, "127.0.0.1")
	waitStalled(t, srv, 3)

	// 127.0.0.1 is at its cap: its own oldest goes, though the handshaken one is older.
	a3 := dialFrom(t, srv, "127.0.0.1")
	wantEvicted(t, a1)
	waitStalled(t, srv, 3)
	// All three places taken: least progress goes first, so a2 rather than the older
	// handshaken connection.
	b1 := dialFrom(t, srv, "127.0.0.3")
	wantEvicted(t, a2)
	// Counted by the evicted connection's handler, which may run after the client saw EOF.
	waitFor(t, 2*time.Second, "two evictions counted", func() bool { return refusals("evicted") == before+2 })
	waitStalled(t, srv, 3)
	waitFor(t, 2*time.Second, "the evicted connections gone", func() bool { return srv.openConns() == 3 })
	closeAll(t, srv, []net.Conn{shook, a3, b1})

	ctx := contextFor(t, 30*time.Second)
	v := newH264Viewer(t, s, "show", sfu.LayerFull)
	enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 20*time.Second, baselineArgs...)
	if err := v.waitFrames(ctx, 0, 10, 640, 360); err != nil {
		t.Fatalf("%v\nffmpeg:\n%s", err, enc.out.String())
	}
	if srv.openConns() != 1 || srv.preAuth.len() != 0 {
		t.Fatalf("%d connections open, %d unauthenticated; want the host's alone, authenticated", srv.openConns(), srv.preAuth.len())
	}
	// Three silent clients fit and evict nobody: the host holds no unauthenticated place.
	idle := []net.Conn{dialFrom(t, srv, "127.0.0.1"), dialFrom(t, srv, "127.0.0.1"), dialFrom(t, srv, "127.0.0.2")}
	waitStalled(t, srv, 3)
	defer closeAll(t, srv, idle)
	if got := refusals("evicted"); got != before+2 {
		t.Errorf("evicted %v after the host published, want %v", got, before+2)
	}
	if enc.exited() {
		t.Fatalf("the host's ffmpeg exited:\n%s", enc.out.String())
	}
}

// TestFirstStageTimeout: a client that stalls in the C0/C1/C2 handshake is dropped at
// first_stage_timeout; one that finished it has the rest of handshake_timeout for connect.
func TestFirstStageTimeout(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	cfg := testConfig()
	cfg.HandshakeTimeout = 10 * time.Second
	cfg.FirstStageTimeout = 300 * time.Millisecond
	srv := startServer(t, cfg, Options{SFU: s, Ladder: l.start})
	shook := dialFrom(t, srv, "127.0.0.2")
	_ = shook.SetDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := handshake.DoClient(shook, false, false); err != nil {
		t.Fatal(err)
	}
	stalled := dialFrom(t, srv, "127.0.0.1")
	if _, err := stalled.Write(append([]byte{3}, make([]byte, 1000)...)); err != nil { // C0 and part of C1
		t.Fatal(err)
	}
	start := time.Now()
	_ = stalled.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.Copy(io.Discard, stalled); err != nil {
		t.Fatalf("stalled handshake: %v, want closed by the server", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stalled handshake dropped after %s, want about %s", d, cfg.FirstStageTimeout)
	}
	_ = shook.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := shook.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("handshaken connection: read %v, want still open (waiting for connect)", err)
	}
}

// dialFrom connects to the server from a loopback address (Linux routes all of 127/8 to lo).
func dialFrom(t *testing.T, srv *Server, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitStalled waits until n unauthenticated connections are registered, each with the
// server blocked reading from it: the order of evictions is then settled.
func waitStalled(t *testing.T, srv *Server, n int) {
	t.Helper()
	waitFor(t, 2*time.Second, fmt.Sprintf("%d stalled connections", n), func() bool {
		srv.preAuth.mu.Lock()
		defer srv.preAuth.mu.Unlock()
		stalled := 0
		for _, c := range srv.preAuth.conns {
			if c.waiting.Load() {
				stalled++
			}
		}
		return len(srv.preAuth.conns) == n && stalled == n
	})
}

// wantEvicted fails unless the server closed c.
func wantEvicted(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("%s: read %v, want EOF (evicted)", c.LocalAddr(), err)
	}
}

// flakyListener fails Accept with a non-timeout error (as EMFILE is) a few times before
// handing out one connection, then reports itself closed.
type flakyListener struct {
	net.Listener
	fails int
	conn  net.Conn
	done  chan struct{}
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	if c := l.conn; c != nil {
		l.conn = nil
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

// TestAcceptSurvivesErrors: running out of file descriptors does not end RTMP ingest: the
// accept loop backs off and takes the next connection.
func TestAcceptSurvivesErrors(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	srv := startServer(t, testConfig(), Options{SFU: s, Ladder: l.start})
	server, client := net.Pipe()
	defer client.Close()
	ln := &flakyListener{fails: 3, conn: server, done: make(chan struct{})}
	stopped := make(chan struct{})
	go func() { srv.accept(ln); close(stopped) }()
	waitFor(t, 5*time.Second, "the connection after the failures taken", func() bool { return srv.openConns() == 1 })
	close(ln.done)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("accept did not return once the listener closed")
	}
}

// dialIdle opens n connections that never speak and waits until the server holds them.
func dialIdle(t *testing.T, srv *Server, n int) []net.Conn {
	t.Helper()
	open := srv.openConns()
	var idle []net.Conn
	for range n {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	waitFor(t, 2*time.Second, "the idle connections open", func() bool { return srv.openConns() == open+n })
	return idle
}

// closeAll closes idle connections and waits until the server let them go.
func closeAll(t *testing.T, srv *Server, idle []net.Conn) {
	t.Helper()
	open := srv.openConns()
	for _, c := range idle {
		_ = c.Close()
	}
	waitFor(t, 2*time.Second, "the idle connections gone", func() bool { return srv.openConns() == open-len(idle) })
}
