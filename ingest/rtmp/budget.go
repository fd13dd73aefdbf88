package rtmp

import (
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// preAuthBytes is what a client may send before its publish is authorised: the handshake
// (3 KiB), connect, createStream and publish are a few kilobytes. gortmplib accepts message
// bodies up to 10 MiB on each of thousands of chunk streams and keeps partial ones, so
// without this an anonymous client could make the server hold whatever it sent during the
// whole handshake timeout. It does not bound what gortmplib reserves for one message
// whose header declares a large body (up to 10 MiB, before the body arrives): that is
// bounded by Config.MaxUnauthenticated connections at a time.
const preAuthBytes = 64 << 10

// The RTMP handshake is C0 (1 byte) and C1 (1,536) from the client, then C2 (1,536) after
// the server's S0/S1/S2. Bytes read tell how far a client got without parsing anything.
const (
	c0c1Bytes      = 1 + 1536
	handshakeBytes = c0c1Bytes + 1536
)

// States of a pre-auth connection (budgetConn.state).
const (
	statePending   int32 = iota // evictable
	stateAdmitting              // connect and publish are in, the key is being checked: kept
	stateEvicted                // chosen as a victim: its handler stops at its next step
)

// Progress of a pre-auth connection, from least to most: who to evict first.
const (
	stageC0C1    = iota // C0/C1 not all in: an idle or one-byte client is here
	stageC2             // waiting for C2
	stageCommand        // handshake done, connect/publish not yet all in
)

// errPreAuthBudget is a handshake failure like any other (counted and logged as one).
var errPreAuthBudget = fmt.Errorf("rtmp: more than %d bytes before the publish was authorised", preAuthBytes)

// budgetConn is a connection that has not yet presented a valid stream key: its reads fail
// once a byte budget is spent (the budget is lifted once the client is known), it tells the
// pre-auth registry how far its client got, and it can be evicted to make room.
type budgetConn struct {
	net.Conn
	addr netip.Prefix // the client's IPv4 address or IPv6 /64
	left atomic.Int64 // < 0: unlimited
	read atomic.Int64 // bytes read so far, up to handshakeBytes
	// waiting is set while a read blocks on the client: a client that keeps the server
	// waiting is the one to evict, not one whose bytes the server has yet to read.
	waiting atomic.Bool
	// lastRead is when the server last read bytes from the client (monoNow; the accept
	// until the first read): how long a client has kept the server waiting tells a stalled
	// one from an encoder waiting a round trip for the server's answer.
	lastRead atomic.Int64
	// state is statePending, stateAdmitting or stateEvicted. One atomic, moved only by
	// compare-and-swap, so an eviction and the handler's key check cannot both win: the
	// victim is chosen under the set's lock but closed outside it, and in that gap its
	// handler could otherwise pass its key check and then be closed as a publisher.
	state atomic.Int32
	// fullDeadline is the handshake timeout's deadline; the first stage (the C0/C1/C2
	// handshake) runs under a shorter one, and reaching the end of it moves the deadline
	// here (once: extended).
	fullDeadline time.Time
	extended     atomic.Bool
}

func newBudgetConn(c net.Conn, budget int64) *budgetConn {
	b := &budgetConn{Conn: c, addr: addrKey(c.RemoteAddr())}
	b.left.Store(budget)
	b.lastRead.Store(monoNow())
	return b
}

// clockBase makes monoNow monotonic: time.Since uses the monotonic clock reading.
var clockBase = time.Now()

// monoNow is nanoseconds on a monotonic clock, to store in an atomic.
func monoNow() int64 { return int64(time.Since(clockBase)) }

// addrKey is the per-address key for the pre-auth cap: an IPv4 address, or an IPv6 /64
// (one subscriber's allocation: anyone holding one has 2^64 addresses to cycle through).
// Anything else (net.Pipe in tests) shares the zero key.
func addrKey(a net.Addr) netip.Prefix {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}
	}
	ip := ta.AddrPort().Addr().Unmap()
	bits := 64
	if ip.Is4() {
		bits = 32
	}
	p, _ := ip.Prefix(bits)
	return p
}

func (b *budgetConn) Read(p []byte) (int, error) {
	left := b.left.Load()
	if left == 0 {
		return 0, errPreAuthBudget
	}
	if left > 0 && int64(len(p)) > left {
		p = p[:left]
	}
	b.waiting.Store(true)
	n, err := b.Conn.Read(p)
	b.waiting.Store(false)
	if left > 0 { // before authorisation only: nothing is added to a publisher's reads
		if n > 0 {
			b.lastRead.Store(monoNow())
		}
		b.left.Add(-int64(n))
		b.progress(n)
	}
	return n, b.why(err)
}

func (b *budgetConn) Write(p []byte) (int, error) {
	n, err := b.Conn.Write(p)
	return n, b.why(err)
}

// progress counts handshake bytes; at the end of the handshake the short first-stage
// deadline gives way to the rest of the handshake timeout.
func (b *budgetConn) progress(n int) {
	if b.read.Load() >= handshakeBytes {
		return
	}
	if b.read.Add(int64(n)) >= handshakeBytes && !b.fullDeadline.IsZero() && b.extended.CompareAndSwap(false, true) {
		_ = b.Conn.SetDeadline(b.fullDeadline)
	}
}

// stage is how far the client got: what the server read, and what the client sent that
// the server has yet to read. The second is what tells an encoder whose handler has not
// run yet (its whole C0/C1 waits in the socket) from a one-byte flood client in the same
// state: without it the newest unread connection was evicted, and an encoder that came
// just before a burst of flood reconnects from its own address was that one.
func (b *budgetConn) stage() int {
	switch n := b.read.Load() + b.queued(); {
	case n >= handshakeBytes:
		return stageCommand
	case n >= c0c1Bytes:
		return stageC2
	}
	return stageC0C1
}

// sentAny reports whether the client sent anything yet, read or still in the socket.
func (b *budgetConn) sentAny() bool { return b.read.Load() > 0 || b.queued() > 0 }

// queued is how many bytes the client sent that the server has not read yet (the socket's
// receive queue); 0 when it cannot be asked (a test's net.Pipe) or once the handshake's
// bytes are all read, when it no longer matters.
func (b *budgetConn) queued() int64 {
	if b.read.Load() >= handshakeBytes {
		return 0
	}
	sc, ok := b.Conn.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	n, ioctlErr := 0, error(nil)
	if err := rc.Control(func(fd uintptr) { n, ioctlErr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ioctlErr != nil || n < 0 {
		return 0
	}
	return int64(n)
}

// why turns the error of an evicted connection's read or write into ErrEvicted, so the
// handler counts and logs it as an eviction rather than a broken handshake.
func (b *budgetConn) why(err error) error {
	if err != nil && b.state.Load() == stateEvicted {
		return fmt.Errorf("%w: %v", ErrEvicted, err)
	}
	return err
}

// markEvicted claims a pending connection as a victim; false if its key is being checked
// (or it was claimed already). Only a connection so claimed may be closed by evict.
func (b *budgetConn) markEvicted() bool {
	return b.state.CompareAndSwap(statePending, stateEvicted)
}

// evict closes a connection claimed by markEvicted; its handler's next read or write
// fails with ErrEvicted.
func (b *budgetConn) evict() { _ = b.Conn.Close() }

// beginAdmit marks the connection as having its key checked, no longer evictable; false
// if it was evicted first, and then the handler must stop.
func (b *budgetConn) beginAdmit() bool {
	return b.state.CompareAndSwap(statePending, stateAdmitting)
}

// endAdmit makes a connection whose key was refused evictable again while it lingers.
func (b *budgetConn) endAdmit() { b.state.CompareAndSwap(stateAdmitting, statePending) }

// unlimit lifts the budget.
func (b *budgetConn) unlimit() { b.left.Store(-1) }

// CloseWrite half-closes the underlying connection (see lingerClose).
func (b *budgetConn) CloseWrite() error {
	if cw, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
