package rtmp

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu"
)

var smallArgs = []string{"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine",
	"-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p", "-c:a", "aac"}

// TestHostReconnects: the encoder drops (killed: no RTMP goodbye) and connects again, as
// OBS retries after a network blip. The viewer, subscribed throughout without
// renegotiating, gets the new stream (told apart by its picture size).
func TestHostReconnects(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	srv := startServer(t, testConfig(), Options{SFU: s, Ladder: l.start})
	ctx := contextFor(t, 40*time.Second)
	v := newH264Viewer(t, s, "show", sfu.LayerFull)

	first := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 30*time.Second, baselineArgs...)
	if err := v.waitFrames(ctx, 0, 15, 640, 360); err != nil {
		t.Fatalf("%v\nffmpeg:\n%s", err, first.out.String())
	}
	first.kill()
	waitFor(t, 5*time.Second, "the first session's ladder closed", func() bool { return l.list()[0].isClosed() })
	mark := len(v.frames())
	second := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 30*time.Second, smallArgs...)
	if err := v.waitFrames(ctx, mark, 15, 320, 240); err != nil {
		t.Fatalf("after the reconnect: %v\nffmpeg:\n%s", err, second.out.String())
	}
}

// TestSecondHostReplacesFirst: a new publish for a room whose host is still connected but
// has gone silent (its network died without closing TCP) takes the stage at once, not after
// the read timeout; the old connection and its ladder are closed, and the viewer carries on
// with the new stream.
func TestSecondHostReplacesFirst(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	cfg := testConfig()
	cfg.ReadTimeout = 20 * time.Second // the replacement must not wait for it
	srv := startServer(t, cfg, Options{SFU: s, Ladder: l.start})
	ctx := contextFor(t, 40*time.Second)
	v := newH264Viewer(t, s, "show", sfu.LayerFull)

	px := newFreezingProxy(t, srv.Addr().String())
	first := publishFFmpeg(t, "rtmp://"+px.addr()+"/live/"+publishToken(t, "show"), 30*time.Second, baselineArgs...)
	if err := v.waitFrames(ctx, 0, 15, 640, 360); err != nil {
		t.Fatalf("%v\nffmpeg:\n%s", err, first.out.String())
	}
	px.freeze()
	mark := len(v.frames())
	start := time.Now()
	second := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 30*time.Second, smallArgs...)
	if err := v.waitFrames(ctx, mark, 15, 320, 240); err != nil {
		t.Fatalf("after the second host: %v\nffmpeg:\n%s", err, second.out.String())
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("the second host took %s to reach the viewer", d)
	}
	waitFor(t, 5*time.Second, "the first session's ladder closed", func() bool { return l.list()[0].isClosed() })
	waitFor(t, 5*time.Second, "the first connection closed", func() bool { return srv.openConns() == 1 })
	if l.list()[1].isClosed() {
		t.Fatal("the second session was closed")
	}
}

// freezingProxy forwards TCP to target until freeze, then stops forwarding in both
// directions while keeping the sockets open: a host whose network died.
type freezingProxy struct {
	ln     net.Listener
	mu     sync.Mutex
	frozen bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFreezingProxy(t *testing.T, target string) *freezingProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezingProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); p.pipe(up, c) }()
			go func() { defer p.wg.Done(); p.pipe(c, up) }()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *freezingProxy) addr() string { return p.ln.Addr().String() }

func (p *freezingProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

func (p *freezingProxy) isFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.frozen
}

// pipe copies until frozen; then it stops reading, so nothing moves either way.
func (p *freezingProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if p.isFrozen() {
			_, _ = io.Copy(io.Discard, io.LimitReader(src, 0))
			return
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezingProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
