package sfu

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

func TestLoadMeterMeasuresBusyShareOfEachWindow(t *testing.T) {
	var m loadMeter
	t0 := time.Now().UnixNano()
	ms := int64(time.Millisecond)
	// A frame every 100 ms taking 30 ms to send: the window closes with the frame that
	// ends past a second, at 1,030 ms, busy for 11 × 30 ms of it.
	for i := range int64(11) {
		m.add(t0+i*100*ms, t0+i*100*ms+30*ms, 250)
	}
	load, viewers := m.read(t0 + 1100*ms)
	if load < 0.319 || load > 0.321 || viewers != 250 {
		t.Fatalf("load %.3f with %d viewers, want 0.320 (330/1030) with 250", load, viewers)
	}
	if load, viewers := m.read(t0 + 5*int64(time.Second)); load != 0 || viewers != 0 {
		t.Fatalf("a source silent for 4 s still reads as %.2f with %d viewers", load, viewers)
	}
}

func TestProjectedScalesToOneMoreViewer(t *testing.T) {
	if p := projected(0.45, 100, 110); p < 0.499 || p > 0.5 {
		t.Fatalf("0.45 at 100 viewers projects to %.4f at 111, want 0.4995", p)
	}
	if p := projected(0.9, minProjected-1, 100); p != 0 {
		t.Fatalf("a load measured with too few viewers projects to %.2f, want 0 (no verdict)", p)
	}
}

// newCapacitySFU is an SFU with one room whose video Receiver is attached but reads
// nothing: the test sets its measured load.
func newCapacitySFU(t *testing.T, tune func(*Config)) (*SFU, *Room, *Receiver) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.MaxCPULoad = 0 // the process's real CPU would make the counts below depend on the machine
	tune(&cfg)
	s, err := New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	r, err := s.Join("stage", RolePublisher)
	if err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(r.video, PublishedTrack{Codec: forwardedCodecs()[1], Kind: webrtc.RTPCodecTypeVideo, SSRC: 1}, &s.cfg, zap.NewNop())
	r.video.attach(rcv)
	return s, r, rcv
}

// setLoad makes rcv's last window read load with n viewers, ending now.
func setLoad(rcv *Receiver, load float64, n int) {
	rcv.load.load.Store(int64(load * 1000))
	rcv.load.viewers.Store(int64(n))
	rcv.load.ended.Store(time.Now().UnixNano())
}

func TestRoomAdmitsViewersUpToItsMeasuredFanoutLoad(t *testing.T) {
	s, _, rcv := newCapacitySFU(t, func(c *Config) { c.MaxFanoutLoad = 0.5 })
	for range 100 {
		if _, err := s.Join("stage", RoleViewer); err != nil {
			t.Fatalf("joining while nothing is measured: %v", err)
		}
	}
	// Busy 45 % of the time with 100 viewers: each costs 0.45 %, so the room takes a
	// viewer while 0.45 % × (its viewers and the newcomer) stays within 50 %: 111 in all.
	setLoad(rcv, 0.45, 100)
	if got := s.busiestFanout(); got != 0.45 {
		t.Fatalf("glint_sfu_fanout_load_max reads %v, want 0.45", got)
	}
	joined := 100
	var err error
	for ; joined < 200; joined++ {
		if _, err = s.Join("stage", RoleViewer); err != nil {
			break
		}
	}
	if joined != 111 || !errors.Is(err, ErrRoomFull) || !strings.Contains(err.Error(), "sfu.max_fanout_load") {
		t.Fatalf("%d viewers joined, then %v; want 111, then room full naming sfu.max_fanout_load", joined, err)
	}
	// Another room is not this one's load.
	if _, err := s.Join("other", RoleViewer); err != nil {
		t.Fatalf("another room: %v", err)
	}
	// Measured with too few viewers to tell, the load turns nobody away.
	setLoad(rcv, 0.95, minProjected-1)
	if _, err := s.Join("stage", RoleViewer); err != nil {
		t.Fatalf("load measured with %d viewers: %v", minProjected-1, err)
	}
}

func TestFixedRoomCapStillApplies(t *testing.T) {
	s, _, _ := newCapacitySFU(t, func(c *Config) { c.MaxViewersPerRoom, c.MaxFanoutLoad = 3, 0 })
	for i := range 4 {
		_, err := s.Join("stage", RoleViewer)
		if (i < 3) != (err == nil) || (i == 3 && !errors.Is(err, ErrRoomFull)) {
			t.Fatalf("viewer %d: %v", i+1, err)
		}
	}
}

func TestNodeAdmitsViewersUpToItsMeasuredCPULoad(t *testing.T) {
	s, _, _ := newCapacitySFU(t, func(c *Config) { c.MaxCPULoad, c.MaxFanoutLoad = 0.85, 0 })
	for range 50 {
		if _, err := s.Join("stage", RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	// A reading taken just now (so it is not taken again): 84 % with 50 viewers.
	s.cpu.mu.Lock()
	s.cpu.at, s.cpu.load, s.cpu.viewers = time.Now(), 0.84, 50
	s.cpu.mu.Unlock()
	_, err := s.Join("elsewhere", RoleViewer)
	if !errors.Is(err, ErrNodeFull) || !strings.Contains(err.Error(), "sfu.max_cpu_load") {
		t.Fatalf("viewer 51 at 84 %% CPU with 50: %v, want the node full", err)
	}
	if s.Room("elsewhere") != nil {
		t.Error("the refused viewer left an empty room behind")
	}
}

func TestCPUMeterReadsThisProcess(t *testing.T) {
	var m cpuMeter
	start := time.Now()
	m.read(start, 0)
	// Keep one goroutine busy across a sampling interval.
	stop := time.Now().Add(cpuSampleEvery + 100*time.Millisecond)
	x := 0
	for time.Now().Before(stop) {
		x++
	}
	load, _ := m.read(time.Now(), 30)
	if load <= 0 || load > 1.05 || x == 0 {
		t.Fatalf("a busy goroutine reads as %.3f of the process's cores", load)
	}
}
