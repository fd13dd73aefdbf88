package rtmp

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/handshake"

	"github.com/glintlive/glint/sfu"
)

// stalledFlood is n clients, spread over addrs, that each complete the RTMP handshake and
// fall silent, and reconnect pause after the server cuts them, until stop. Unlike the idle
// flood they get as far as an encoder that waits for the server's answer to connect.
type stalledFlood struct {
	stop  chan struct{}
	wg    sync.WaitGroup
	dials atomic.Int64
	cuts  atomic.Int64
}

func startStalledFlood(t *testing.T, addr string, addrs []string, n int, pause time.Duration) *stalledFlood {
	t.Helper()
	f := &stalledFlood{stop: make(chan struct{})}
	for i := range n {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addrs[i%len(addrs)])}, Timeout: time.Second}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for {
				if c, err := d.Dial("tcp", addr); err == nil {
					f.dials.Add(1)
					f.hold(c)
				}
				select {
				case <-f.stop:
					return
				case <-time.After(pause):
				}
			}
		}()
	}
	t.Cleanup(f.close)
	return f
}

// hold completes the handshake and keeps the connection open, silent, until the server
// cuts it or the flood stops.
func (f *stalledFlood) hold(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := handshake.DoClient(c, false, false); err != nil {
		return
	}
	_ = c.SetDeadline(time.Time{})
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

func (f *stalledFlood) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
}

// TestStalledHandshakeFloodCannotLockOut: clients that complete the handshake and stall,
// from four addresses (none at its own cap, so each newcomer evicts from all), filling the
// pre-auth places and reconnecting when cut, do not evict an encoder behind a 300 ms round
// trip while it waits for each answer. Before the fix the encoder, at the same stage as
// the flood or behind it, was evicted as the oldest or least far. (A flood that stalled
// less than quietAfter ago still evicts an encoder waiting for its C2: see preAuthSet.)
func TestStalledHandshakeFloodCannotLockOut(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	cfg := testConfig()
	cfg.HandshakeTimeout = DefaultConfig().HandshakeTimeout
	cfg.FirstStageTimeout = DefaultConfig().FirstStageTimeout
	cfg.MaxUnauthenticated, cfg.MaxUnauthenticatedPerAddress = 8, 4
	srv := startServer(t, cfg, Options{SFU: s, Ladder: l.start})
	link := startDelayLink(t, srv.Addr().String(), 150*time.Millisecond)
	flood := startStalledFlood(t, srv.Addr().String(), []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}, 8, 200*time.Millisecond)
	waitFor(t, 5*time.Second, "the flood in every place", func() bool { return srv.preAuth.len() == 8 })
	time.Sleep(quietAfter + 200*time.Millisecond) // stalled, as the flood would be when the host arrives

	ctx := contextFor(t, 40*time.Second)
	v := newH264Viewer(t, s, "show", sfu.LayerFull)
	url := fmt.Sprintf("rtmp://%s/live/%s", link.ln.Addr(), publishToken(t, "show"))
	enc := publishFFmpeg(t, url, 30*time.Second, baselineArgs...)
	got := make(chan error, 1)
	go func() { got <- v.waitFrames(ctx, 0, 15, 640, 360) }()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("%v\nffmpeg:\n%s", err, enc.out.String())
		}
	case <-enc.done:
		t.Fatalf("the encoder was turned away during the flood (%d flood connections, %d cut):\n%s",
			flood.dials.Load(), flood.cuts.Load(), enc.out.String())
	}
	if flood.cuts.Load() == 0 {
		t.Errorf("the flood was never cut: the test did not test")
	}
	t.Logf("%d flood connections, %d cut by the server", flood.dials.Load(), flood.cuts.Load())
	flood.close()
	enc.kill()
}
