package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// agentProc is the coordinator's handle on one viewer agent process (see agent.go).
type agentProc struct {
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	enc  *json.Encoder
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, set before done closes
}

// agentCloseWait is how long an agent may take to close its viewers and exit.
const agentCloseWait = 30 * time.Second

// startAgents starts cfg.Procs agents, agent i pinned to cfg.CPUs[i] when CPUs are given,
// and sends each its configuration.
func startAgents(ctx context.Context, cfg FanoutConfig) ([]*agentProc, error) {
	var agents []*agentProc
	for i := range cfg.Procs {
		var cpus []int
		if len(cfg.CPUs) > 0 {
			cpus = cfg.CPUs[i%len(cfg.CPUs)]
		}
		a, err := startAgent(ctx, cfg, i, cpus)
		if err != nil {
			closeAgents(agents)
			return nil, err
		}
		agents = append(agents, a)
	}
	return agents, nil
}

func startAgent(ctx context.Context, cfg FanoutConfig, i int, cpus []int) (*agentProc, error) {
	a := &agentProc{name: fmt.Sprintf("viewer agent %d", i), done: make(chan struct{})}
	if len(cpus) > 0 {
		a.name += " (CPUs " + joinInts(cpus) + ")"
	}
	a.cmd = exec.CommandContext(ctx, cfg.AgentCommand[0], cfg.AgentCommand[1:]...)
	a.cmd.Env = append(os.Environ(), cfg.AgentEnv...)
	a.cmd.Stderr = cfg.Progress
	if a.cmd.Stderr == nil {
		a.cmd.Stderr = io.Discard
	}
	var err error
	if a.in, err = a.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := a.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := startPinned(a.cmd, cpus); err != nil {
		return nil, fmt.Errorf("loadtest: start %s: %w", a.name, err)
	}
	go func() { a.err = a.cmd.Wait(); close(a.done) }()
	a.out = bufio.NewScanner(stdout)
	a.out.Buffer(make([]byte, 1<<20), 16<<20)
	a.enc = json.NewEncoder(a.in)
	conf := AgentConfig{WHEP: cfg.WHEP, Token: cfg.ViewToken, JoinConcurrency: cfg.JoinConcurrency}
	if err := a.enc.Encode(conf); err != nil {
		a.close()
		return nil, fmt.Errorf("loadtest: configure %s: %w", a.name, err)
	}
	return a, nil
}

// startPinned starts cmd with its CPU affinity set to cpus (none: inherited). The child
// inherits the affinity of the thread that forks it, so this thread is pinned for the
// fork and restored after: the child's Go runtime then sizes GOMAXPROCS to its CPUs from
// its first instruction, which pinning it after the start would not do.
func startPinned(cmd *exec.Cmd, cpus []int) error {
	if len(cpus) == 0 {
		return cmd.Start()
	}
	var set, old unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	runtime.LockOSThread()
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("read CPU affinity: %w", err)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("pin to CPUs %s: %w", joinInts(cpus), err)
	}
	err := cmd.Start()
	if unix.SchedSetaffinity(0, &old) == nil {
		// Left locked on failure, the thread exits with this goroutine's end instead of
		// carrying the pin into other goroutines.
		runtime.UnlockOSThread()
	}
	return err
}

// call sends one request and decodes its one-line reply into reply.
func (a *agentProc) call(req agentRequest, reply any) error {
	if err := a.enc.Encode(req); err != nil {
		return fmt.Errorf("loadtest: %s: send %s: %w", a.name, req.Op, a.exitErr(err))
	}
	if !a.out.Scan() {
		err := a.out.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("loadtest: %s: no reply to %s: %w", a.name, req.Op, a.exitErr(err))
	}
	if err := json.Unmarshal(a.out.Bytes(), reply); err != nil {
		return fmt.Errorf("loadtest: %s: reply to %s: %w", a.name, req.Op, err)
	}
	if r, ok := reply.(*agentReply); ok && r.Error != "" {
		return fmt.Errorf("loadtest: %s: %s: %s", a.name, req.Op, r.Error)
	}
	return nil
}

// exitErr adds the agent's exit status to err when the agent has died.
func (a *agentProc) exitErr(err error) error {
	select {
	case <-a.done:
		return fmt.Errorf("%w (agent exited: %v)", err, a.err)
	case <-time.After(100 * time.Millisecond):
		return err
	}
}

// close ends the agent's input, so it closes its viewers and exits, and kills it if it
// has not within agentCloseWait.
func (a *agentProc) close() {
	_ = a.in.Close()
	select {
	case <-a.done:
	case <-time.After(agentCloseWait):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

func closeAgents(agents []*agentProc) {
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Add(1)
		go func() { defer wg.Done(); a.close() }()
	}
	wg.Wait()
}

// eachAgent runs f on every agent at once and returns the first error.
func eachAgent(agents []*agentProc, f func(i int, a *agentProc) error) error {
	errs := make([]error, len(agents))
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(i, a) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ParseCPUSets reads --cpus: one CPU list per agent, separated by '/', each a
// comma-separated list of CPUs or ranges ("2-5/6-9" gives two agents four CPUs each).
func ParseCPUSets(s string) ([][]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var sets [][]int
	for _, group := range strings.Split(s, "/") {
		var set []int
		for _, f := range strings.Split(group, ",") {
			lo, hi, isRange := strings.Cut(strings.TrimSpace(f), "-")
			a, err := strconv.Atoi(lo)
			b := a
			if err == nil && isRange {
				b, err = strconv.Atoi(hi)
			}
			if err != nil || a < 0 || b < a || b >= 1024 {
				return nil, fmt.Errorf("loadtest: --cpus %q: %q is not a CPU or a range of CPUs", s, f)
			}
			for c := a; c <= b; c++ {
				set = append(set, c)
			}
		}
		sets = append(sets, set)
	}
	return sets, nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
