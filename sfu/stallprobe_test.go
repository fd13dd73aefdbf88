package sfu_test

import (
	"sync"
	"time"
)

// stallProbe notices when this test process is not scheduled: a ticker that records how
// late it ran. On a shared 2-core machine under load the publisher, the SFU and the viewer
// (one process) stop together for hundreds of ms, and a gap in the viewer's frames then
// says nothing about the network or the SFU.
type stallProbe struct {
	mu     sync.Mutex
	stalls []stall
	done   chan struct{}
	wg     sync.WaitGroup
}

type stall struct {
	at   time.Time
	late time.Duration
}

const (
	probeEvery   = 5 * time.Millisecond
	noticedStall = 20 * time.Millisecond
)

func startStallProbe() *stallProbe {
	p := &stallProbe{done: make(chan struct{})}
	p.wg.Add(1)
	go p.run()
	return p
}

func (p *stallProbe) run() {
	defer p.wg.Done()
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-p.done:
			return
		case now := <-tick.C:
			if late := time.Since(last) - probeEvery; late >= noticedStall {
				p.mu.Lock()
				p.stalls = append(p.stalls, stall{at: now, late: late})
				p.mu.Unlock()
			}
			last = time.Now()
		}
	}
}

// longestBetween is the longest stall noticed in [from, to].
func (p *stallProbe) longestBetween(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var most time.Duration
	for _, s := range p.stalls {
		if !s.at.Before(from) && !s.at.After(to) {
			most = max(most, s.late)
		}
	}
	return most
}

func (p *stallProbe) stop() {
	close(p.done)
	p.wg.Wait()
}
