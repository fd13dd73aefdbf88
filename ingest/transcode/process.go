package transcode

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// supervisor keeps one ffmpeg process running for a Ladder: it restarts a process that
// exits or stalls, with exponential back-off, and kills the whole process group on Close.
type supervisor struct {
	ffmpeg  string
	job     jobArgs // targets are filled in per process
	outputs []*output
	in      *input
	log     *zap.Logger

	minBackoff, maxBackoff, stallTimeout time.Duration
	overloadLag                          time.Duration
	videoOutputs                         int       // outputs[:videoOutputs] are the rungs as started, tallest first
	shed                                 shedState // shed.go
	onShed                               atomic.Pointer[func(Shed)]

	activity atomic.Int64 // last RTP from any output, unix nanos (outputs write it)
	pid      atomic.Int64 // the running ffmpeg's pid, 0 between processes
	stop     chan struct{}
	done     chan struct{}
}

// outcome is why a process ended.
type outcome int

const (
	exited     outcome = iota // crashed or quit on its own
	stalled                   // killed: input flowed but no output came
	stopped                   // killed: the Ladder closed
	overloaded                // killed: it could not keep up with the host (shed.go)
)

// healthyRun is how long a process must have run for the back-off to start over: a process
// that dies at once on every start (bad input, a missing library) must not spin.
const healthyRun = 10 * time.Second

// run is the supervisor's goroutine.
func (s *supervisor) run() {
	defer close(s.done)
	// Pdeathsig fires when the thread that forked the child exits, not the process. Keeping
	// the forking goroutine on one thread for the supervisor's life means a Go runtime that
	// retires idle threads cannot kill ffmpeg behind our back, while glint dying still does.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	backoff := s.minBackoff
	for gen := uint64(1); ; gen++ {
		start := time.Now()
		why, err := s.runOnce(gen)
		s.in.pause()
		if why == stopped || s.stopping() {
			return // a start that failed because Close came meanwhile is no crash
		}
		if why == overloaded {
			what, kind := s.shedOne()
			sheds.WithLabelValues(kind).Inc()
			s.log.Warn("the ladder cannot keep up with the host: ffmpeg restarts with less work",
				zap.String("shed", what), zap.Int("rungs", len(s.job.Rungs)), zap.Error(err))
			if f := s.onShed.Load(); f != nil {
				(*f)(Shed{What: what, Kind: kind, Rungs: len(s.job.Rungs)})
			}
			continue // at once: no failure, and the host's frames are waiting
		}
		if time.Since(start) >= healthyRun {
			backoff = s.minBackoff
		}
		if why == stalled {
			restartsOnStall.Inc()
		} else {
			restartsOnExit.Inc()
		}
		s.log.Warn("ffmpeg ended; restarting", zap.Error(err), zap.Duration("ran", time.Since(start)), zap.Duration("backoff", backoff))
		t := time.NewTimer(backoff)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, s.maxBackoff)
	}
}

func (s *supervisor) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// runOnce starts one ffmpeg process for generation gen and returns when it has ended and
// every goroutine and pipe of it is gone.
func (s *supervisor) runOnce(gen uint64) (outcome, error) {
	cmd, stdin, stderr, err := s.start(gen)
	if err != nil {
		return exited, err
	}
	ffmpegRunning.Inc()
	defer ffmpegRunning.Dec()
	s.pid.Store(int64(cmd.Process.Pid))
	defer s.pid.Store(0)

	elog := newStderrLog(s.log.With(zap.Int("pid", cmd.Process.Pid)))
	var wg sync.WaitGroup
	stopFeed := make(chan struct{})
	wg.Add(2)
	go func() { defer wg.Done(); elog.consume(stderr) }()
	go func() { defer wg.Done(); s.in.feed(gen, stdin, stopFeed) }()
	p := &proc{cmd: cmd}
	ended := make(chan error, 1)
	go func() { ended <- p.reap() }()

	why, err := s.watch(p, ended)
	// The process and its group are gone: the feeder's pipe is broken, stderr is at EOF.
	close(stopFeed)
	stdin.Close()
	wg.Wait()
	stderr.Close()
	if why != stopped && err != nil {
		err = fmt.Errorf("%w (last output: %q)", err, elog.lastLines())
	}
	return why, err
}

// watch waits for the process to end, killing it on Close or when it stalls.
func (s *supervisor) watch(p *proc, ended <-chan error) (outcome, error) {
	started := time.Now().UnixNano()
	tick := time.NewTicker(min(s.stallTimeout/5, 500*time.Millisecond)) // overload is judged over 3 s
	defer tick.Stop()
	for {
		select {
		case err := <-ended:
			if err == nil {
				err = errors.New("ffmpeg exited")
			}
			return exited, err
		case <-s.stop:
			p.kill()
			<-ended
			return stopped, nil
		case now := <-tick.C:
			if s.stalledAt(now.UnixNano(), started) {
				p.kill()
				<-ended
				return stalled, fmt.Errorf("ffmpeg produced nothing for %v while input flowed", s.stallTimeout)
			}
			if lag, over := s.overloadedAt(now.UnixNano(), started); over {
				p.kill()
				<-ended
				return overloaded, fmt.Errorf("the host's frames waited %v for ffmpeg", lag.Round(time.Millisecond))
			}
		}
	}
}

// stalledAt reports whether input has flowed recently while no output has come for the
// stall timeout (counting from the process's start). A host that pauses is not a stall.
func (s *supervisor) stalledAt(now, started int64) bool {
	st := int64(s.stallTimeout)
	lastOut := max(s.activity.Load(), started)
	lastIn := s.in.lastFeed.Load()
	return now-lastIn < st && lastIn > started && now-lastOut > st
}

// start launches ffmpeg for generation gen with fresh local ports.
func (s *supervisor) start(gen uint64) (cmd *exec.Cmd, stdin, stderr *os.File, err error) {
	ports, err := reservePorts(2 * len(s.outputs))
	if err != nil {
		return nil, nil, nil, err
	}
	job := s.job
	job.Video = job.Video[:0:0]
	job.Audio = nil
	for i, o := range s.outputs {
		if i < s.shed.rungs {
			continue // a shed rung: its track gets nothing more, and its viewers move down
		}
		if err := o.expect(ports[2*i], ports[2*i+1]); err != nil {
			return nil, nil, nil, err
		}
		t := o.target(ports[2*i], ports[2*i+1])
		if i < s.videoOutputs {
			job.Video = append(job.Video, t)
		} else {
			job.Audio = &t
		}
	}
	if gen > 1 { // the first stream was opened by Start, so that no input is lost before this
		seek, replayed, err := s.in.restart(gen, true)
		if err != nil {
			return nil, nil, nil, err
		}
		if replayed {
			job.Seek = seek
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, nil, nil, err
	}
	cmd = exec.Command(s.ffmpeg, job.build()...)
	// *os.File pipes are handed to the child as they are: no copying goroutines inside
	// os/exec, so Wait may run while we still read stderr.
	cmd.Stdin, cmd.Stderr = inR, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // its own group, killed as one
		Pdeathsig: syscall.SIGKILL, // and killed by the kernel if glint dies first
	}
	err = cmd.Start()
	inR.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		errR.Close()
		return nil, nil, nil, fmt.Errorf("transcode: start ffmpeg: %w", err)
	}
	s.log.Debug("ffmpeg started", zap.Int("pid", cmd.Process.Pid), zap.Strings("args", cmd.Args))
	return cmd, inW, errR, nil
}

// proc is a started ffmpeg whose group can be killed until, and only until, it is reaped.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	reaped bool
}

// reap waits for the process to exit, kills what is left of its group, then collects it.
// The group is killed while the leader is still an unreaped zombie, so its pid (the group's
// id) cannot have been reused by an unrelated process.
func (p *proc) reap() error {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.cmd.Process.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = unix.Kill(-p.cmd.Process.Pid, unix.SIGKILL)
	err := p.cmd.Wait()
	p.reaped = true
	return err
}

// kill kills ffmpeg and anything it started. A live stream has nothing to flush, so there is
// no polite SIGTERM first.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		_ = unix.Kill(-p.cmd.Process.Pid, unix.SIGKILL)
	}
}
