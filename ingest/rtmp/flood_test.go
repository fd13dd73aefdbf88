package rtmp

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu"
)

// idleFlood is the attack from the issue: n clients that each connect, send one byte and
// fall silent, and reconnect as soon as the server cuts them, until stop.
type idleFlood struct {
	stop  chan struct{}
	wg    sync.WaitGroup
	dials atomic.Int64
	cuts  atomic.Int64
}

func startIdleFlood(t *testing.T, addr string, from net.IP, n int) *idleFlood {
	t.Helper()
	f := &idleFlood{stop: make(chan struct{})}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from}, Timeout: time.Second}
	for range n {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for {
				select {
				case <-f.stop:
					return
				default:
				}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				f.dials.Add(1)
				f.hold(c)
			}
		}()
	}
	t.Cleanup(f.close)
	return f
}

// hold sends one byte and keeps the connection open, silent, until the server cuts it or
// the flood stops.
func (f *idleFlood) hold(c net.Conn) {
	defer c.Close()
	if _, err := c.Write([]byte{3}); err != nil {
		return
	}
	cut := make(chan struct{})
	go func() {
		defer close(cut)
		_, _ = io.Copy(io.Discard, c)
	}()
	select {
	case <-cut:
		f.cuts.Add(1)
	case <-f.stop:
		_ = c.Close()
		<-cut
	}
}

func (f *idleFlood) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
}

// TestIdleFloodCannotLockOut: sixteen clients that each send one byte and fall silent,
// reconnecting as fast as they are cut, do not keep a host with a valid stream key out,
// whether they come from another address or from the host's own (a venue behind one NAT).
// Before the fix they filled max_unauthenticated for the whole handshake timeout and
// ffmpeg was refused at once.
func TestIdleFloodCannotLockOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		from net.IP
	}{
		{"other address", net.IPv4(127, 0, 0, 2)},
		{"same address", net.IPv4(127, 0, 0, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSFU(t)
			var l ladders
			cfg := testConfig()
			cfg.HandshakeTimeout = DefaultConfig().HandshakeTimeout // as deployed: 10 s
			srv := startServer(t, cfg, Options{SFU: s, Ladder: l.start})
			flood := startIdleFlood(t, srv.Addr().String(), tc.from, 16)
			waitFor(t, 5*time.Second, "the flood under way", func() bool { return flood.dials.Load() >= 16 })

			ctx := contextFor(t, 30*time.Second)
			v := newH264Viewer(t, s, "show", sfu.LayerFull)
			enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 25*time.Second, baselineArgs...)
			got := make(chan error, 1)
			go func() { got <- v.waitFrames(ctx, 0, 15, 640, 360) }()
			select {
			case err := <-got:
				if err != nil {
					t.Fatalf("%v\nffmpeg:\n%s", err, enc.out.String())
				}
			case <-enc.done:
				t.Fatalf("ffmpeg was turned away during the flood (%d flood connections, %d cut):\n%s",
					flood.dials.Load(), flood.cuts.Load(), enc.out.String())
			}
			// The flood was still going while the host published, and the host keeps going.
			before := flood.dials.Load()
			if err := v.waitFrames(ctx, len(v.frames()), 30, 640, 360); err != nil {
				t.Fatalf("host disturbed: %v", err)
			}
			if flood.dials.Load() == before {
				t.Errorf("the flood stopped reconnecting (%d connections): the test did not test", before)
			}
			if enc.exited() {
				t.Fatalf("the host's ffmpeg exited:\n%s", enc.out.String())
			}
			t.Logf("%d flood connections, %d cut by the server", flood.dials.Load(), flood.cuts.Load())
			flood.close()
		})
	}
}
