package sfu

import (
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestLivenessDetector drives the host-silence detector on a fake clock: not live before
// the first packet; live on it; a muted host whose only traffic is a sender report every
// 1-1.5 s (browsers jitter the interval) stays live; a killed host is gone exactly
// HostTimeout after its last packet, not before; and it is live again on its next packet.
func TestLivenessDetector(t *testing.T) {
	const timeout = 2 * time.Second
	l := liveness{timeout: int64(timeout)}
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	step := func(last, now int64, wantLive, wantChanged bool) {
		t.Helper()
		live, changed := l.update(last, now)
		if live != wantLive || changed != wantChanged {
			t.Fatalf("last %d ms, now %d ms: live %v changed %v, want %v %v",
				last/ms(1), now/ms(1), live, changed, wantLive, wantChanged)
		}
	}
	step(0, ms(1000), false, false) // connected, nothing heard yet
	step(ms(1100), ms(1100), true, true)
	step(ms(1133), ms(1200), true, false)

	// Muted: sender reports only, with 1.5 s between some of them.
	last := ms(1133)
	for now := last; now < ms(30_000); now += ms(100) {
		if (now-ms(1133))%ms(2500) == 0 || (now-ms(1133))%ms(2500) == ms(1000) {
			last = now
		}
		step(last, now, true, false)
	}

	// Killed at 30 s: the last packet is the one before.
	killed := ms(30_000)
	step(killed, killed+ms(1000), true, false)
	step(killed, killed+ms(1999), true, false)
	step(killed, killed+ms(2000), false, true)
	step(killed, killed+ms(5000), false, false)

	// Back (its network returned, or ICE restarted): live at once.
	step(killed+ms(6000), killed+ms(6000), true, true)
}

// TestHostTimeoutValidated: a timeout under the sender-report interval would have muted
// hosts flap between live and gone; one over a minute is no detection at all.
func TestHostTimeoutValidated(t *testing.T) {
	for _, d := range []time.Duration{0, 500 * time.Millisecond, 2 * time.Minute} {
		cfg := DefaultConfig()
		cfg.HostTimeout = d
		if cfg.Validate() == nil {
			t.Errorf("host_timeout %s accepted", d)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestHeardWritesSparingly: the packet path (up to four receivers and the RTCP reader of
// one session) writes the shared heard time at most every heardEvery, not on every
// packet, so the cores do not fight over its cache line; the first packet still wakes
// the host watch, once.
func TestHeardWritesSparingly(t *testing.T) {
	p := &Peer{kick: make(chan struct{}, 1)}
	t0 := time.Now().UnixNano()
	p.heardAt(t0)
	select {
	case <-p.kick:
	default:
		t.Fatal("first packet: no kick")
	}
	p.heardAt(t0 + int64(heardEvery)/2)
	if got := p.heard.Load(); got != t0 {
		t.Fatalf("a packet %s after the last write rewrote heard: %d, want %d", heardEvery/2, got, t0)
	}
	p.heardAt(t0 + int64(heardEvery))
	if got := p.heard.Load(); got != t0+int64(heardEvery) {
		t.Fatalf("a packet %s later: heard %d, want %d", heardEvery, got, t0+int64(heardEvery))
	}
	select {
	case <-p.kick:
		t.Fatal("kicked again after the first packet")
	default:
	}
	if n := testing.AllocsPerRun(100, func() { p.heardAt(time.Now().UnixNano()) }); n != 0 {
		t.Fatalf("heardAt allocates %v per packet", n)
	}
}

// TestHostPollTakesNoLock: the interaction layer polls every room's host state every
// 50 ms (10k rooms: 200k looks a second), so the look (SFU.Room, then Room.Host) takes
// neither the SFU lock nor the room's: it answers while both are held elsewhere.
func TestHostPollTakesNoLock(t *testing.T) {
	cfg := DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	s, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	r, err := s.Join("polled", RolePublisher)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.setHost(HostState{Live: true, Epoch: 1})
	r.mu.Unlock()

	s.mu.Lock()
	r.mu.Lock()
	got := make(chan HostState, 1)
	go func() { got <- s.Room("polled").Host() }()
	var st HostState
	select {
	case st = <-got:
	case <-time.After(2 * time.Second):
		r.mu.Unlock()
		s.mu.Unlock()
		<-got // let the poll finish before failing, so it does not leak
		t.Fatal("the host poll waited for the SFU or room lock")
	}
	r.mu.Unlock()
	s.mu.Unlock()
	if !st.Live || st.Epoch != 1 {
		t.Fatalf("polled %+v, want live in epoch 1", st)
	}
}

// BenchmarkHostPoll is one interaction room's look at its host state, from many rooms
// at once.
func BenchmarkHostPoll(b *testing.B) {
	cfg := DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	s, err := New(cfg, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if _, err := s.Join("polled", RolePublisher); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := s.Room("polled"); r != nil {
				_ = r.Host()
			}
		}
	})
}
