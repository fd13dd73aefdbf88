package rtmp

import (
	"fmt"
	"net"
	"sync/atomic"
)

// preAuthBytes is what a client may send before its publish is authorised: the handshake
// (3 KiB), connect, createStream and publish are a few kilobytes. gortmplib accepts message
// bodies up to 10 MiB on each of thousands of chunk streams and keeps partial ones, so
// without this an anonymous client could make the server hold whatever it sent during the
// whole handshake timeout. It does not bound what gortmplib reserves for one message
// whose header declares a large body (up to 10 MiB, before the body arrives): that is
// bounded by Config.MaxUnauthenticated connections at a time.
const preAuthBytes = 64 << 10

// errPreAuthBudget is a handshake failure like any other (counted and logged as one).
var errPreAuthBudget = fmt.Errorf("rtmp: more than %d bytes before the publish was authorised", preAuthBytes)

// budgetConn is a net.Conn whose reads fail once a byte budget is spent; the budget is
// lifted once the client is known.
type budgetConn struct {
	net.Conn
	left atomic.Int64 // < 0: unlimited
}

func newBudgetConn(c net.Conn, budget int64) *budgetConn {
	b := &budgetConn{Conn: c}
	b.left.Store(budget)
	return b
}

func (b *budgetConn) Read(p []byte) (int, error) {
	left := b.left.Load()
	if left == 0 {
		return 0, errPreAuthBudget
	}
	if left > 0 && int64(len(p)) > left {
		p = p[:left]
	}
	n, err := b.Conn.Read(p)
	if left > 0 {
		b.left.Add(-int64(n))
	}
	return n, err
}

// unlimit lifts the budget.
func (b *budgetConn) unlimit() { b.left.Store(-1) }

// CloseWrite half-closes the underlying connection (see lingerClose).
func (b *budgetConn) CloseWrite() error {
	if cw, ok := b.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
