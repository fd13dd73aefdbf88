package rtmp

import (
	"net"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/handshake"
)

// startStalledFlood is n clients, spread over addrs, that each complete the RTMP handshake
// and fall silent, and reconnect pause after the server cuts them. Unlike the idle flood
// they get as far as an encoder that waits for the server's answer to connect.
func startStalledFlood(t *testing.T, addr string, addrs []string, n int, pause time.Duration) *flood {
	from := make([]net.IP, len(addrs))
	for i, a := range addrs {
		from[i] = net.ParseIP(a)
	}
	return startFlood(t, addr, from, n, pause, func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := handshake.DoClient(c, false, false); err != nil {
			return err
		}
		return c.SetDeadline(time.Time{})
	})
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

	publishDuringFlood(t, s, link, flood)
}
