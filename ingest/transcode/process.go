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

	"github.com/prometheus/client_golang/prometheus"
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
	// takeover is how long the last shed's handover took from the new process's launch
	// until every output had its packets (its start-up): a restore starts the new
	// process's outputs that far ahead of the newest frame (its lead), since its
	// predecessor goes on live meanwhile and would otherwise have shown those frames.
	takeover time.Duration
	onShed   atomic.Pointer[func(Shed)]

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
	overloaded                // left running for a lighter successor: it could not keep up with the host (shed.go)
	restorable                // left running for a heavier successor: it kept up comfortably (shed.go)
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
	var old *running // a process that runs on until its successor takes over (a shed or a restore)
	var lead time.Duration
	for gen := uint64(1); ; gen++ {
		start := time.Now()
		why, r, err := s.runOnce(gen, old, lead)
		old, lead = nil, 0
		if why == overloaded || why == restorable {
			if s.stopping() {
				s.pid.Store(0)
				r.finish()
				return
			}
			if why == overloaded && s.shed.retry {
				// The job is lighter than r's already: a shed whose process failed
				// (handoverFailed). It is tried again; nothing more is shed, and the
				// viewers, told of the shed then, are not told again.
				s.shed.retry = false
				shedRetries.Inc()
				s.log.Warn("the ladder still cannot keep up: trying the lighter ffmpeg again", zap.Error(err))
				old = r
				continue
			}
			c := s.change(why, err)
			if why == restorable {
				// Told once its process has taken over (untold): viewers told the
				// ladder does all it should, then that it does not, would see a
				// restore that never was when the try fails (handoverFailed).
				lead, s.shed.untold = s.takeover, &c
			} else {
				s.tell(c)
			}
			// Make before break: the next process starts now, at once (no failure, and
			// the host's frames are waiting), while this one goes on (with its backlog,
			// and fed the host's input: handoverfeed.go); each
			// output switches at the new one's first packet (output.takeOver), and this
			// one is killed once all have (watch).
			old = r
			continue
		}
		s.in.pause()
		s.shed.retry = false // the restart runs the job
		if why == stopped || s.stopping() {
			return // a start that failed because Close came meanwhile is no crash
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

// change makes the next process's job lighter (overloaded) or gives it back the preset
// it shed (restorable), logs and counts it, and says what it did.
func (s *supervisor) change(why outcome, err error) Shed {
	if why == restorable {
		what := s.restoreOne()
		restores.Inc()
		s.log.Info("the ladder has kept up comfortably: ffmpeg restarts with its configured preset",
			zap.String("restore", what), zap.Duration("next_try_after", s.shed.restoreAfter))
		return Shed{What: what, Kind: "restore", Rungs: len(s.job.Rungs)}
	}
	what, kind := s.shedOne()
	sheds.WithLabelValues(kind).Inc()
	s.log.Warn("the ladder cannot keep up with the host: ffmpeg restarts with less work",
		zap.String("shed", what), zap.Int("rungs", len(s.job.Rungs)), zap.Error(err))
	return Shed{What: what, Kind: kind, Rungs: len(s.job.Rungs)}
}

// tell passes a change on to OnShed's function.
func (s *supervisor) tell(c Shed) {
	if f := s.onShed.Load(); f != nil {
		(*f)(c)
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

// running is a started ffmpeg with the goroutines that feed it and read its stderr.
type running struct {
	p        *proc
	done     chan struct{} // closed once the process is reaped
	err      error         // its exit, once done is closed
	queue    chan chunk    // what its feeder reads
	stopFeed chan struct{}
	stdin    *os.File
	stderr   *os.File
	elog     *stderrLog
	wg       sync.WaitGroup
	in       *input
	gen      uint64
	led      time.Duration // how far ahead of the newest frame its outputs started (a restore's lead)
}

// finish kills the process if it still runs and returns once it has ended and every
// goroutine and pipe of it is gone; it returns how the process ended.
func (r *running) finish() error {
	r.in.endHandover(r.gen) // an old process being retired gets no more input
	r.p.kill()
	<-r.done
	// The process and its group are gone: the feeder's pipe is broken, stderr is at EOF.
	close(r.stopFeed)
	r.stdin.Close()
	r.wg.Wait()
	r.stderr.Close()
	r.in.drainQueue(r.queue)
	ffmpegRunning.Dec()
	return r.err
}

// launch starts the ffmpeg process of generation gen and the goroutines around it. With
// handover, the current process runs on until the new one takes over (see run).
func (s *supervisor) launch(gen uint64, handover bool, lead time.Duration) (*running, error) {
	cmd, stdin, stderr, led, err := s.start(gen, handover, lead)
	if err != nil {
		return nil, err
	}
	ffmpegRunning.Inc()
	s.pid.Store(int64(cmd.Process.Pid))
	r := &running{p: &proc{cmd: cmd}, done: make(chan struct{}), queue: s.in.queueOf(), stopFeed: make(chan struct{}),
		stdin: stdin, stderr: stderr, elog: newStderrLog(s.log.With(zap.Int("pid", cmd.Process.Pid))), in: s.in, gen: gen, led: led}
	r.wg.Add(2)
	go func() { defer r.wg.Done(); r.elog.consume(stderr) }()
	go func() { defer r.wg.Done(); s.in.feed(gen, r.queue, stdin, r.stopFeed) }()
	go func() { r.err = r.p.reap(); close(r.done) }()
	return r, nil
}

// runOnce runs the ffmpeg process of generation gen, taking over from old (a process
// being shed or restored from, or nil), and returns when it has ended and every goroutine
// and pipe of it is gone; or, when it is to be replaced itself (overloaded or restorable),
// while it still runs, with its handle for the next process to take over from.
func (s *supervisor) runOnce(gen uint64, old *running, lead time.Duration) (outcome, *running, error) {
	peers := s.peers() // old's ports, should the handover be called off
	r, err := s.launch(gen, old != nil, lead)
	if err != nil {
		s.pid.Store(0)
		if old != nil {
			return s.handoverFailed(old, gen, peers, err)
		}
		return exited, nil, err
	}
	return s.follow(r, old, peers)
}

// follow watches r, which takes over from old (or nil; peers are old's ports), until it
// ends or is to be replaced: runOnce's result.
func (s *supervisor) follow(r, old *running, peers []uint32) (outcome, *running, error) {
	why, kept, err := s.watch(r, old)
	if why == overloaded || why == restorable {
		if kept != nil { // cannot happen: overload counts after overloadGrace > handoverMax
			handoverFailed.Inc()
			s.restoreDone()
			kept.finish()
		}
		return why, r, err
	}
	s.pid.Store(0)
	r.finish()
	if why != stopped && err != nil {
		err = fmt.Errorf("%w (last output: %q)", err, r.elog.lastLines())
	}
	if kept != nil {
		if why == stopped {
			handoverFailed.Inc()
			s.shed.restoring, s.shed.untold = "", nil
			kept.finish()
			return why, nil, err
		}
		return s.handoverFailed(kept, r.gen, peers, err)
	}
	return why, nil, err
}

// handoverFailed handles a process of generation gen that could not start, or ended or
// stalled before it took over any output from old (whose ports were peers): old goes on
// as the running process. Killing it, as a crash restart did, stopped the picture for
// the back-off and a start, and for good while ffmpeg could not run.
//   - A restore's old process kept up with the host, with its faster preset; the viewers,
//     not told of the restore yet (untold), see no change. The next try waits twice as
//     long (unrestore).
//   - A shed's old process could not keep up, but it still sends: a picture behind and at
//     a lower frame rate beats none. The job stays the lighter one, tried again at the
//     next overload (retry; the shed rung's track has ended already).
//
// When old cannot go on (it ended too, or an output took the new process's packets),
// run restarts as after a crash.
func (s *supervisor) handoverFailed(old *running, gen uint64, peers []uint32, err error) (outcome, *running, error) {
	if !s.takeBack(old, gen, peers) {
		handoverFailed.Inc()
		s.restoreDone() // a restore's preset is what the crash restart runs
		old.finish()
		return exited, nil, err
	}
	s.pid.Store(int64(old.p.cmd.Process.Pid)) // the running process again before it is counted
	handoverKept.Inc()
	if s.shed.restoring != "" {
		what := s.unrestore()
		s.log.Warn("the ffmpeg with the configured preset failed before it took over: the lighter one goes on",
			zap.String("shed", what), zap.Error(err), zap.Duration("next_try_after", s.shed.restoreAfter))
	} else {
		s.shed.retry = true
		s.shed.lagSince = 0
		s.log.Warn("the lighter ffmpeg failed before it took over: the one that cannot keep up goes on until the next try",
			zap.Error(err))
	}
	return s.follow(old, nil, nil)
}

// restoreDone ends a restore's handover, its process in charge: the viewers are told now.
func (s *supervisor) restoreDone() {
	s.shed.restoring = ""
	if c := s.shed.untold; c != nil {
		s.shed.untold = nil
		s.tell(*c)
	}
}

// peers is each output's current process's ports (0 for a shed rung's).
func (s *supervisor) peers() []uint32 {
	out := make([]uint32, len(s.outputs))
	for i, o := range s.outputs {
		out[i], _ = o.peers()
	}
	return out
}

// takeBack calls off a handover from old to the process of generation gen, which did not
// take over any output: every output goes on with old's packets (peers) and old is fed
// the host's input again. It reports false when that is no longer possible (an output
// took the new process's packets); the caller then ends old.
func (s *supervisor) takeBack(old *running, gen uint64, peers []uint32) bool {
	select {
	case <-old.done:
		return false // it ended too (both killed at once): nothing to go on with
	default:
	}
	for i, o := range s.outputs {
		if i >= s.shed.rungs && !o.keep(peers[i]) {
			return false
		}
	}
	return s.in.takeBack(old.gen, gen)
}

// handoverMax is the longest an old process runs on beside its successor: one that has
// not taken over by then (slow to start, or stuck) is left to the stall check.
const handoverMax = 3 * time.Second

// minLead and maxLead bound a restore's lead (supervisor.takeover): the first restore of
// a ladder uses its shed's start-up, and a handover that waited on a stuck process must
// not make the next restore skip a second of picture.
const (
	minLead     = 50 * time.Millisecond
	maxLead     = time.Second
	defaultLead = 250 * time.Millisecond // the ~200 ms start-up measured at 360p, with room
)

// handoverPoll is how often a handover is checked: an old process left running costs
// CPU on a machine that is short of it.
const handoverPoll = 20 * time.Millisecond

// watch waits for the process to end, killing it on Close or when it stalls, and says so
// when it cannot keep up (leaving it running: run starts its successor). Meanwhile it
// kills old, the process r takes over from, once every output has r's packets (or after
// handoverMax, or when old ends by itself). When r ends first, old is returned (kept),
// still running, for the caller to go on with or finish (handoverFailed).
func (s *supervisor) watch(r, old *running) (why outcome, kept *running, err error) {
	started := time.Now().UnixNano()
	tick := time.NewTicker(min(s.stallTimeout/5, 500*time.Millisecond)) // overload is judged over 3 s
	defer tick.Stop()
	var oldDone <-chan struct{}
	var handover <-chan time.Time
	if old != nil {
		oldDone = old.done
		t := time.NewTicker(handoverPoll)
		defer t.Stop()
		handover = t.C
		defer func() { kept = old }() // the new process ended, stalled or was stopped first
	}
	retire := func(how prometheus.Counter) {
		how.Inc()
		s.restoreDone() // a restore's process took over, or has nothing to go back to
		switch err := old.finish(); how {
		case handoverEnded:
			s.log.Warn("the ffmpeg being handed over from ended before its successor took over",
				zap.Error(err), zap.Strings("last_output", old.elog.lastLines()))
		case handoverTimeout: // the outputs still waiting stop until the new process's packets come
			s.log.Warn("the new ffmpeg had not taken over every output in time; the old one is stopped",
				zap.Duration("after", handoverMax), zap.Duration("lead", r.led))
		}
		old, oldDone, handover = nil, nil, nil
	}
	for {
		select {
		case <-r.done:
			err := r.err
			if err == nil {
				err = errors.New("ffmpeg exited")
			}
			return exited, nil, err
		case <-s.stop:
			r.p.kill()
			<-r.done
			return stopped, nil, nil
		case <-oldDone:
			retire(handoverEnded)
		case now := <-handover:
			switch {
			case s.handedOver():
				if r.led == 0 { // a shed's: how long a start takes (a restore's waited for its lead)
					s.takeover = min(max(time.Duration(now.UnixNano()-started), minLead), maxLead)
				}
				retire(handoverSeamless)
			case now.UnixNano()-started >= int64(handoverMax):
				if s.shed.restoring != "" && s.noneTookOver() {
					// A restore's process that has sent nothing by now hangs: the lighter
					// one, which kept up, goes on (handoverFailed) rather than be retired.
					r.p.kill()
					<-r.done
					return stalled, nil, fmt.Errorf("the new ffmpeg sent nothing within %v of its start", handoverMax)
				}
				retire(handoverTimeout)
			}
		case now := <-tick.C:
			if s.stalledAt(now.UnixNano(), started) {
				r.p.kill()
				<-r.done
				return stalled, nil, fmt.Errorf("ffmpeg produced nothing for %v while input flowed", s.stallTimeout)
			}
			if lag, over := s.overloadedAt(now.UnixNano(), started); over {
				return overloaded, nil, fmt.Errorf("the host's frames waited %v for ffmpeg", lag.Round(time.Millisecond))
			}
			if old == nil && s.restorableAt(now.UnixNano(), started) {
				return restorable, nil, nil
			}
		}
	}
}

// noneTookOver reports whether every output the running process was given still waits for
// its first packet.
func (s *supervisor) noneTookOver() bool {
	for i, o := range s.outputs {
		if i >= s.shed.rungs && o.handedOver() {
			return false
		}
	}
	return true
}

// handedOver reports whether every output the running process was given takes its
// packets now (none waits for its first).
func (s *supervisor) handedOver() bool {
	for i, o := range s.outputs {
		if i >= s.shed.rungs && !o.handedOver() {
			return false
		}
	}
	return true
}

// stalledAt reports whether input has flowed recently while no output has come for the
// stall timeout (counting from the process's start). A host that pauses is not a stall.
func (s *supervisor) stalledAt(now, started int64) bool {
	st := int64(s.stallTimeout)
	lastOut := max(s.activity.Load(), started)
	lastIn := s.in.lastFeed.Load()
	return now-lastIn < st && lastIn > started && now-lastOut > st
}

// start launches ffmpeg for generation gen with fresh local ports; with handover the
// outputs take the running process's packets until the new one's come (output.expect).
// A process given the held GOP starts its outputs lead past its newest frame; led says
// whether that happened (0: no replay, or no lead).
func (s *supervisor) start(gen uint64, handover bool, lead time.Duration) (cmd *exec.Cmd, stdin, stderr *os.File, led time.Duration, err error) {
	ports, err := reservePorts(2 * len(s.outputs))
	if err != nil {
		return nil, nil, nil, 0, err
	}
	job := s.job
	job.Video = job.Video[:0:0]
	job.Audio = nil
	for i, o := range s.outputs {
		if i < s.shed.rungs {
			continue // a shed rung: its track gets nothing more, and its viewers move down
		}
		o.expect(ports[2*i], ports[2*i+1], handover)
		t := o.target(ports[2*i], ports[2*i+1])
		if i < s.videoOutputs {
			job.Video = append(job.Video, t)
		} else {
			job.Audio = &t
		}
	}
	if gen > 1 { // the first stream was opened by Start, so that no input is lost before this
		seek, replayed, err := s.in.restart(gen, true, handover)
		if err != nil {
			return nil, nil, nil, 0, err
		}
		if replayed {
			job.Seek, led = seek+lead, lead
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, nil, nil, 0, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, nil, nil, 0, err
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
		return nil, nil, nil, 0, fmt.Errorf("transcode: start ffmpeg: %w", err)
	}
	s.log.Debug("ffmpeg started", zap.Int("pid", cmd.Process.Pid), zap.Strings("args", cmd.Args))
	return cmd, inW, errR, led, nil
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
