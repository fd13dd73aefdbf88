package rtmp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestPreAuthVictim: which unauthenticated connection a newcomer evicts, by progress,
// whether the server is waiting on it, age and address; one whose key is being checked is
// never evicted, and when all are, the newcomer is refused.
func TestPreAuthVictim(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []member // oldest first
		from    string   // the newcomer's address
		want    int      // index of the victim; -1 none; -2 refused
		max     int      // caps: 3 in all and 2 per address unless set
		perAddr int
	}{
		{"room left", []member{{"1.1.1.1", 1, true, false, 0}}, "1.1.1.1", -1, 0, 0},
		{"oldest stalled", []member{{"1.1.1.1", 1, true, false, 0}, {"1.1.1.1", 1, true, false, 0}, {"1.1.1.2", 0, true, false, 0}}, "1.1.1.3", 0, 0, 0},
		{"least progress before oldest", []member{{"1.1.1.1", handshakeBytes, true, false, 0}, {"1.1.1.2", c0c1Bytes, true, false, 0}, {"1.1.1.3", 1, true, false, 0}}, "1.1.1.4", 2, 0, 0},
		{"waiting before unread", []member{{"1.1.1.1", 0, false, false, 0}, {"1.1.1.2", 1, true, false, 0}, {"1.1.1.3", 0, false, false, 0}}, "1.1.1.4", 1, 0, 0},
		{"newest unread", []member{{"1.1.1.1", 0, false, false, 0}, {"1.1.1.2", 0, false, false, 0}, {"1.1.1.3", 0, false, false, 0}}, "1.1.1.4", 2, 0, 0},
		{"own address first", []member{{"1.1.1.2", 1, true, false, 0}, {"1.1.1.1", handshakeBytes, true, false, 0}, {"1.1.1.1", c0c1Bytes, true, false, 0}}, "1.1.1.1", 2, 0, 0},
		{"key being checked is kept", []member{{"1.1.1.1", handshakeBytes, true, true, 0}, {"1.1.1.2", handshakeBytes, true, false, 0}, {"1.1.1.3", handshakeBytes, true, true, 0}}, "1.1.1.4", 1, 0, 0},
		{"all being checked", []member{{"1.1.1.1", handshakeBytes, true, true, 0}, {"1.1.1.1", handshakeBytes, true, true, 0}}, "1.1.1.1", -2, 0, 0},
		// An encoder waits a round trip for each answer during connect/publish, a flood
		// that completed the handshake is silent for good: the encoder is not the victim
		// (it was, as the oldest at the same stage, before the fix).
		{"encoder waiting a round trip", append([]member{{"1.1.1.1", handshakeBytes, true, false, 50 * time.Millisecond}},
			fullHandshakeFlood(7, 1500*time.Millisecond)...), "3.3.3.3", 1, 8, 4},
		{"longest silent among recent", []member{{"1.1.1.1", handshakeBytes, true, false, 100 * time.Millisecond},
			{"2.2.2.2", handshakeBytes, true, false, 300 * time.Millisecond}, {"2.2.2.3", handshakeBytes, true, false, 200 * time.Millisecond}}, "3.3.3.3", 1, 0, 0},
		// One that read bytes within quietAfter is kept while a longer-silent one exists,
		// even one further on: here an encoder waiting for its C2.
		{"recent read kept over stalled further on", []member{{"1.1.1.1", c0c1Bytes, true, false, 20 * time.Millisecond},
			{"2.2.2.2", handshakeBytes, true, false, 2 * time.Second}}, "3.3.3.3", 1, 2, 2},
		// An encoder half a round trip away has sent nothing yet; one-byte flood clients
		// from its own address (one NAT) reconnect around it: a torn C0/C1 goes first, even
		// one newer than the encoder (it was the encoder, silent longest, before the fix).
		{"nothing yet kept over a torn C0/C1", []member{{"1.1.1.1", 0, true, false, 100 * time.Millisecond},
			{"1.1.1.1", 1, true, false, 50 * time.Millisecond}, {"1.1.1.1", 1, true, false, 20 * time.Millisecond}}, "1.1.1.1", 1, 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max, perAddr := 3, 2
			if tc.max > 0 {
				max, perAddr = tc.max, tc.perAddr
			}
			p := newPreAuthSet(max, perAddr)
			var conns []*budgetConn
			for _, m := range tc.members {
				c := &budgetConn{addr: netip.PrefixFrom(netip.MustParseAddr(m.addr), 32)}
				if _, err := p.add(c); err != nil {
					t.Fatal(err)
				}
				c.read.Store(m.read)
				c.waiting.Store(m.waiting)
				c.lastRead.Store(monoNow() - int64(m.silent))
				if m.admitting {
					c.state.Store(stateAdmitting)
				}
				conns = append(conns, c)
			}
			newcomer := &budgetConn{addr: netip.PrefixFrom(netip.MustParseAddr(tc.from), 32)}
			victim, err := p.add(newcomer)
			switch {
			case tc.want == -2:
				if !errors.Is(err, ErrTooManyUnauthenticated) {
					t.Fatalf("got %v, %v; want ErrTooManyUnauthenticated", victim, err)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tc.want == -1 && victim != nil:
				t.Fatalf("evicted member %d, want none", indexOf(conns, victim))
			case tc.want >= 0 && victim != conns[tc.want]:
				t.Fatalf("evicted member %d, want %d", indexOf(conns, victim), tc.want)
			}
			want := len(tc.members) + 1 // the newcomer
			if victim != nil {
				want-- // in its place
			}
			if p.len() != want {
				t.Errorf("%d registered after the newcomer, want %d", p.len(), want)
			}
			p.remove(victim) // a no-op: the eviction unregistered it
			for _, c := range conns {
				p.remove(c)
			}
			p.remove(newcomer)
			if p.len() != 0 || len(p.byAddr) != 0 {
				t.Errorf("left %d registered, %d addresses", p.len(), len(p.byAddr))
			}
		})
	}
}

// member is a pre-auth connection in TestPreAuthVictim.
type member struct {
	addr      string
	read      int64         // bytes read
	waiting   bool          // the server is blocked reading from it
	admitting bool          // its key is being checked
	silent    time.Duration // since the server last read from it
}

// fullHandshakeFlood is n clients from two addresses that completed C0/C1/C2 and fell
// silent, the first silent longest.
func fullHandshakeFlood(n int, silent time.Duration) []member {
	var ms []member
	for i := range n {
		ms = append(ms, member{fmt.Sprintf("2.2.2.%d", 2+i%2), handshakeBytes, true, false, silent - time.Duration(i)*time.Millisecond})
	}
	return ms
}

func indexOf(conns []*budgetConn, c *budgetConn) int {
	for i, x := range conns {
		if x == c {
			return i
		}
	}
	return -1
}

// TestPreAuthEvictAdmitRace: the handler of a connection chosen as a victim reaches its key
// check between the choice (under the set's lock) and the close (outside it). Before the
// fix it went on to authenticate and the late close then cut a publisher whose key was
// valid. Now exactly one side wins: either the eviction (the handler learns it was evicted
// and stops) or the key check (and the connection is not closed).
func TestPreAuthEvictAdmitRace(t *testing.T) {
	for _, handlerFirst := range []bool{false, true} {
		server, client := net.Pipe()
		defer client.Close()
		p := newPreAuthSet(1, 1)
		c := newBudgetConn(server, preAuthBytes)
		if _, err := p.add(c); err != nil {
			t.Fatal(err)
		}
		admitted := false
		if handlerFirst {
			admitted = c.beginAdmit()
		}
		other, _ := net.Pipe()
		defer other.Close()
		victim, err := p.add(newBudgetConn(other, preAuthBytes))
		if !handlerFirst {
			admitted = c.beginAdmit() // in the gap before the accept loop closes the victim
		}
		if victim != nil {
			victim.evict()
		}
		closed := server.SetDeadline(time.Time{}) != nil // net.Pipe: io.ErrClosedPipe once closed
		switch {
		case admitted && closed:
			t.Fatalf("handler first %v: the connection passed to its key check and was then closed", handlerFirst)
		case !admitted && !closed:
			t.Fatalf("handler first %v: the handler was stopped but the connection left open", handlerFirst)
		case admitted && !errors.Is(err, ErrTooManyUnauthenticated):
			t.Fatalf("handler first %v: newcomer got %v, want ErrTooManyUnauthenticated", handlerFirst, err)
		}
	}
}

// TestPreAuthUnreadEncoderKept: with no handler yet run on either, a newcomer from the same
// address evicts the older one-byte client, not the newer encoder whose whole C0/C1 waits
// in its socket. Before the fix the newest unread connection went, and in CI an encoder
// that arrived just before a burst of flood reconnects from its own address was that one
// (TestIdleFloodCannotLockOut, "same address").
func TestPreAuthUnreadEncoderKept(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// accept connects a client, has it send what it sends first, and waits until the
	// server's socket holds all of it, unread.
	accept := func(first []byte) *budgetConn {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		if _, err := c.Write(first); err != nil {
			t.Fatal(err)
		}
		b := newBudgetConn(s, preAuthBytes)
		deadline := time.Now().Add(5 * time.Second)
		for b.queued() < int64(len(first)) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d bytes queued after 5 s", b.queued(), len(first))
			}
			time.Sleep(time.Millisecond)
		}
		return b
	}
	p := newPreAuthSet(8, 2)
	flood := accept([]byte{3})
	encoder := accept(make([]byte, c0c1Bytes))
	for _, c := range []*budgetConn{flood, encoder} {
		if _, err := p.add(c); err != nil {
			t.Fatal(err)
		}
	}
	if got := encoder.stage(); got != stageC2 {
		t.Fatalf("encoder with C0/C1 unread at stage %d, want %d", got, stageC2)
	}
	victim, err := p.add(accept([]byte{3}))
	if err != nil {
		t.Fatal(err)
	}
	if victim != flood {
		t.Fatalf("evicted the encoder (%v), want the one-byte client", victim == encoder)
	}
}
