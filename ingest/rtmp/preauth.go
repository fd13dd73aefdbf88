package rtmp

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// preAuthSet holds the connections that have not yet presented a valid stream key, capped
// in total (Config.MaxUnauthenticated: each may make gortmplib reserve up to 10 MiB) and
// per client address (Config.MaxUnauthenticatedPerAddress).
//
// A full budget does not turn a newcomer away: it evicts the connection that is doing
// least with its place. Otherwise sixteen clients that each send one byte and fall silent
// hold the door shut for the whole handshake timeout, reconnecting as fast as they are
// cut, and a real encoder is refused every time. The victim is first one the server has
// heard nothing from for quietAfter, before any heard from since: an encoder waits a round
// trip for each answer during connect and publish, a stalled client, even one that
// completed the handshake, stays silent. Then the one that got least far (still sending
// C0/C1, then C2, then connect/publish; within C0/C1, a client that sent part of it before
// one that sent nothing yet); at the same stage, one whose client keeps the
// server waiting (a read is blocked on it), the one silent longest first, before one whose
// bytes the server has yet to read (a newcomer whose handler has not run: the newest of
// those goes, see choose). How far a client got counts the bytes waiting unread in its
// socket too (budgetConn.stage). An encoder sends its whole C0/C1 at once, so once it has
// arrived, read or not, an idle flood, even from the encoder's own address behind a NAT,
// only ever evicts itself. A connection whose connect and publish are in and whose key is being
// checked is never evicted (budgetConn.state decides which of the two claims it first);
// once the key is good it leaves the set. Only when every member is being checked is a
// newcomer refused (ErrTooManyUnauthenticated).
type preAuthSet struct {
	max, perAddr int

	mu     sync.Mutex
	conns  []*budgetConn // oldest first
	byAddr map[netip.Prefix]int
}

func newPreAuthSet(max, perAddr int) *preAuthSet {
	return &preAuthSet{max: max, perAddr: min(perAddr, max), byAddr: map[netip.Prefix]int{}}
}

// add registers c. When its address or the whole set is at its cap, it picks a victim
// among the same address's connections or among all, unregisters it and returns it for
// the caller to close with evict (outside the lock: it is claimed, see markEvicted).
func (p *preAuthSet) add(c *budgetConn) (victim *budgetConn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.byAddr[c.addr] >= p.perAddr:
		victim = p.victim(c.addr, true)
		if victim == nil {
			return nil, fmt.Errorf("%w (limit %d per address)", ErrTooManyUnauthenticated, p.perAddr)
		}
	case len(p.conns) >= p.max:
		victim = p.victim(netip.Prefix{}, false)
		if victim == nil {
			return nil, fmt.Errorf("%w (limit %d)", ErrTooManyUnauthenticated, p.max)
		}
	}
	if victim != nil {
		p.removeLocked(victim) // victim claimed it (markEvicted): it is the caller's to close
	}
	p.conns = append(p.conns, c)
	p.byAddr[c.addr]++
	return victim, nil
}

// victim picks and claims (markEvicted) the connection to evict among those of addr
// (sameAddr) or all; nil if every one is having its key checked. A handler may start its
// key check while we choose: then its claim fails and we choose again.
func (p *preAuthSet) victim(addr netip.Prefix, sameAddr bool) *budgetConn {
	now := monoNow()
	for {
		v := p.choose(addr, sameAddr, now)
		if v == nil || v.markEvicted() {
			return v
		}
	}
}

// quietAfter is how long a client may keep the server waiting before it ranks as stalled:
// far above the round trip an encoder waits for each answer, far below the timeouts.
const quietAfter = time.Second

func (p *preAuthSet) choose(addr netip.Prefix, sameAddr bool, now int64) *budgetConn {
	var best *budgetConn
	var bestRank int
	var bestLast int64
	for _, c := range p.conns { // oldest first
		if sameAddr && c.addr != addr || c.state.Load() != statePending {
			continue
		}
		waiting, last := c.waiting.Load(), c.lastRead.Load()
		stage := c.stage()
		rank := 4 * stage
		if stage == stageC0C1 && !c.sentAny() {
			// Nothing yet: an encoder's C0/C1 may still be on its way (half a round trip
			// after the connection). A torn C0/C1 whose client then went quiet is not how an
			// encoder sends (C0 and C1 go in one write), so it goes first.
			rank += 2
		}
		if !waiting {
			rank++
		}
		if now-last < int64(quietAfter) {
			rank += 4 * (stageCommand + 1) // heard from lately: after every stalled one
		}
		switch {
		case best == nil || rank < bestRank:
		case rank > bestRank:
			continue
		// On a tie the waiting one silent longest goes (the oldest if equal): a stalled
		// client before an encoder waiting a round trip for its answer. Of those not
		// waiting the newest goes: their bytes are still to be read, and the oldest of
		// them is an encoder whose handler has not run yet as often as not.
		case waiting && last >= bestLast:
			continue
		}
		best, bestRank, bestLast = c, rank, last
	}
	return best
}

// remove unregisters c; a no-op if it was evicted or removed already.
func (p *preAuthSet) remove(c *budgetConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(c)
}

func (p *preAuthSet) removeLocked(c *budgetConn) {
	i := slices.Index(p.conns, c)
	if i < 0 {
		return
	}
	p.conns = slices.Delete(p.conns, i, i+1)
	if p.byAddr[c.addr]--; p.byAddr[c.addr] <= 0 {
		delete(p.byAddr, c.addr)
	}
}

// len is how many connections are unauthenticated now.
func (p *preAuthSet) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}
