package loadtest

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc accounting on every
// architecture Go supports.
const clockTicks = 100

// procSample is one reading of a process's CPU time and memory from /proc.
type procSample struct {
	at     time.Time
	cpu    time.Duration // user + system
	rss    int64         // bytes, now
	peakKB int64         // VmHWM, the high-water mark of RSS
}

// readProc reads /proc/<pid>/stat and /proc/<pid>/status ("self" for this process).
func readProc(pid string) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return s, fmt.Errorf("loadtest: read server stats: %w", err)
	}
	// The command name may hold spaces: fields are counted after its closing parenthesis.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return s, fmt.Errorf("loadtest: /proc/%s/stat: unexpected format", pid)
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 13 {
		return s, fmt.Errorf("loadtest: /proc/%s/stat: too few fields", pid)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64) // field 14 of stat(5)
	stime, _ := strconv.ParseInt(fields[12], 10, 64) // field 15
	s.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return s, fmt.Errorf("loadtest: read server status: %w", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			s.rss = kb << 10
		case "VmHWM":
			s.peakKB = kb
		}
	}
	return s, nil
}

// cpuPercent is the CPU used between two samples as a percentage of one core.
func cpuPercent(a, b procSample) float64 {
	wall := b.at.Sub(a.at)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.cpu-a.cpu) / float64(wall)
}

// clientLimitedPercent: above this share of its CPUs, the load generator itself was the
// bottleneck and a run's figures describe the client as much as the server.
const clientLimitedPercent = 90

// clientLimited reports whether cpu (percent of one core, from cpuPercent of this process)
// is above clientLimitedPercent of the CPUs the process may run on.
func clientLimited(cpu float64) bool {
	return cpu > clientLimitedPercent*float64(min(runtime.GOMAXPROCS(0), runtime.NumCPU()))
}

// reading is this process's and (with a server PID) the server's /proc at one moment: every
// test reports both, so that a reader can tell the client's limit from the server's.
type reading struct {
	self, server procSample
	hasServer    bool
}

// readNow reads this process and, when serverPID is not 0, the server.
func readNow(serverPID int) reading {
	r := reading{}
	r.self, _ = readProc("self")
	if serverPID != 0 {
		var err error
		r.server, err = readProc(strconv.Itoa(serverPID))
		r.hasServer = err == nil
	}
	return r
}

// serverWatch samples the server's RSS every 100 ms for its peak: VmHWM is the peak since
// the server started, which a run after another would not move.
type serverWatch struct {
	pid  string
	max  int64
	mu   sync.Mutex
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
}

// watchServer starts sampling serverPID (nil when it is 0).
func watchServer(serverPID int) *serverWatch {
	if serverPID == 0 {
		return nil
	}
	w := &serverWatch{pid: strconv.Itoa(serverPID), done: make(chan struct{})}
	w.wg.Add(1)
	go w.run()
	return w
}

func (w *serverWatch) run() {
	defer w.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if s, err := readProc(w.pid); err == nil {
			w.mu.Lock()
			w.max = max(w.max, s.rss)
			w.mu.Unlock()
		}
		select {
		case <-w.done:
			return
		case <-t.C:
		}
	}
}

// stop ends sampling; safe on nil and more than once.
func (w *serverWatch) stop() {
	if w == nil {
		return
	}
	w.once.Do(func() { close(w.done) })
	w.wg.Wait()
}

// peak is the largest RSS sampled (0 on nil).
func (w *serverWatch) peak() int64 {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.max
}
