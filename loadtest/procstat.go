package loadtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
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
