package sfu

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// How many viewers a room and a node take is measured, not configured: what a viewer
// costs depends on the bitrate, the layers, the cores and everything else the machine
// runs. Two measures decide, each against a limit in Config:
//
//   - a room's fan-out load: the share of wall time its busiest Receiver spends handing
//     frames to viewers (loadMeter). Past about half, a keyframe's fan-out still runs when
//     the next frame arrives, frames queue, and every viewer's latency grows;
//   - the node's CPU load: this process's CPU time over GOMAXPROCS cores (cpuMeter).
//
// Both are scaled from the viewers they were measured with to one more viewer than the
// room or node has now (projected), so a burst of joins between two measurements is not
// let in on an old reading.

// loadWindow is how long a fan-out load is averaged over.
const loadWindow = time.Second

// minProjected is the fewest viewers a load must have been measured with to turn a viewer
// away: below it a frame's fixed costs (reading, caching, readers such as LL-HLS) and,
// for the CPU, whatever else the process does outweigh the viewers' share, and refusing
// viewers would not relieve it.
const minProjected = 20

// loadMeter measures how busy one Receiver's goroutine is forwarding frames.
type loadMeter struct {
	start, busy int64 // the window being measured, unix nanos (the Receiver's goroutine only)

	// The last full window: its load in per-mille, the viewers it served, when it ended.
	load    atomic.Int64
	viewers atomic.Int64
	ended   atomic.Int64
}

// add counts one forward, from begin to end (unix nanos), to viewers viewers.
func (m *loadMeter) add(begin, end int64, viewers int) {
	if m.start == 0 {
		m.start = begin
	}
	m.busy += end - begin
	if span := end - m.start; span >= int64(loadWindow) {
		m.load.Store(m.busy * 1000 / span)
		m.viewers.Store(int64(viewers))
		m.ended.Store(end)
		m.start, m.busy = end, 0
	}
}

// read returns the last window's load (0..1) and the viewers it served; nothing when the
// source has not forwarded for a while (a stopped layer costs nothing).
func (m *loadMeter) read(now int64) (load float64, viewers int) {
	if now-m.ended.Load() > int64(3*loadWindow) {
		return 0, 0
	}
	return float64(m.load.Load()) / 1000, int(m.viewers.Load())
}

// projected scales a load measured with n0 viewers to n+1 viewers; 0 when n0 is too few
// to tell (minProjected).
func projected(load float64, n0, n int) float64 {
	if n0 < minProjected {
		return 0
	}
	return load * float64(n+1) / float64(n0)
}

// fanoutLoad is the room's busiest fan-out, projected to one more viewer than the n it
// has. Every Receiver of a track iterates all the track's viewers, so each layer's load
// grows with the room.
func (r *Room) fanoutLoad(n int, now int64) float64 {
	var worst float64
	r.eachReceiver(func(rc *Receiver) {
		load, n0 := rc.load.read(now)
		worst = max(worst, projected(load, n0, n))
	})
	return worst
}

// eachReceiver calls f for every Receiver feeding the room's tracks.
func (r *Room) eachReceiver(f func(*Receiver)) {
	for _, t := range []*Track{r.video, r.audio} {
		for i := range t.layers {
			if rc := t.layers[i].Load(); rc != nil {
				f(rc)
			}
		}
	}
}

// cpuSampleEvery is the most often the process's CPU time is read.
const cpuSampleEvery = 500 * time.Millisecond

// cpuMeter measures this process's CPU load, read at most every cpuSampleEvery.
type cpuMeter struct {
	mu      sync.Mutex
	at      time.Time     // the last reading
	cpu     time.Duration // CPU time used up to it
	load    float64       // over the interval before it, as a share of GOMAXPROCS cores
	viewers int           // the node's viewers at the last reading
}

// read returns the process's CPU load and the viewers it had when it was measured,
// taking a new reading when the last is older than cpuSampleEvery.
func (m *cpuMeter) read(now time.Time, viewers int) (load float64, n0 int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.at) < cpuSampleEvery {
		return m.load, m.viewers
	}
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if !m.at.IsZero() {
		m.load = float64(cpu-m.cpu) / float64(now.Sub(m.at)) / float64(runtime.GOMAXPROCS(0))
		m.viewers = viewers
	}
	m.at, m.cpu = now, cpu
	return m.load, m.viewers
}

// admitViewer checks the node's measured CPU load before a viewer joins (any room);
// called by SFU.join under its lock, with the node's viewers.
func (s *SFU) admitViewer(viewers int) error {
	limit := s.cfg.MaxCPULoad
	if limit <= 0 {
		return nil
	}
	load, n0 := s.cpu.read(time.Now(), viewers)
	if p := projected(load, n0, viewers); p > limit {
		viewersRefused.WithLabelValues("cpu_load").Inc()
		return fmt.Errorf("%w: it used %.1f%% of its CPU with %d viewers; with %d it would pass sfu.max_cpu_load (%.1f%%)",
			ErrNodeFull, 100*load, n0, viewers+1, 100*limit)
	}
	return nil
}

// admitViewer checks the room's fixed cap, if any, and its measured fan-out load before a
// viewer joins; called with r.mu held.
func (r *Room) admitViewer() error {
	cfg := &r.sfu.cfg
	if cfg.MaxViewersPerRoom > 0 && r.viewers >= cfg.MaxViewersPerRoom {
		viewersRefused.WithLabelValues("room_limit").Inc()
		return fmt.Errorf("%w (limit %d)", ErrRoomFull, cfg.MaxViewersPerRoom)
	}
	if cfg.MaxFanoutLoad <= 0 {
		return nil
	}
	if load := r.fanoutLoad(r.viewers, time.Now().UnixNano()); load > cfg.MaxFanoutLoad {
		viewersRefused.WithLabelValues("fanout_load").Inc()
		return fmt.Errorf("%w: with one more than its %d viewers, sending them its frames would take %.1f%% of the time, over sfu.max_fanout_load (%.1f%%)",
			ErrRoomFull, r.viewers, 100*load, 100*cfg.MaxFanoutLoad)
	}
	return nil
}

// CapacityCollectors returns gauges of what admission goes by, read at scrape time: the
// busiest room's fan-out load and the process's CPU load, each as measured (not projected).
func (s *SFU) CapacityCollectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "glint", Subsystem: "sfu", Name: "fanout_load_max",
			Help: "Share of the wall clock the busiest room's busiest track spends sending frames to its viewers (admission: sfu.max_fanout_load).",
		}, s.busiestFanout),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "glint", Subsystem: "sfu", Name: "cpu_load",
			Help: "This process's CPU time over its GOMAXPROCS cores, last reading (admission: sfu.max_cpu_load).",
		}, func() float64 { load, _ := s.cpu.read(time.Now(), int(s.viewers.Load())); return load }),
	}
}

// busiestFanout is the highest measured fan-out load over the node's rooms.
func (s *SFU) busiestFanout() float64 {
	now := time.Now().UnixNano()
	var worst float64
	s.byName.Range(func(_, v any) bool {
		v.(*Room).eachReceiver(func(rc *Receiver) {
			load, _ := rc.load.read(now)
			worst = max(worst, load)
		})
		return true
	})
	return worst
}
