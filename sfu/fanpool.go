package sfu

import (
	"runtime"
	"sync"
)

// maxFanoutWorkers bounds Config.FanoutWorkers (and so the lanes of each media socket).
const maxFanoutWorkers = 64

// fanPool is the engine's fan-out workers. One goroutine per published track fans out
// every frame to every viewer, so a large room stopped at what one core can send (about
// 400 viewers of a 2.5 Mbit/s stream whatever the cores). Above Config.FanoutParallelMin
// viewers a Track hands each worker the viewers of its send lanes (see laneOf), does one
// share itself, and waits for the rest before the next frame: every viewer still gets
// frames in order and whole, on one goroutine at a time, and the batch the frame lives in
// is reused only once every share is done. The workers are shared by every track of the
// node, so a busy room may use the cores an idle one leaves.
type fanPool struct {
	workers int // goroutines, plus the calling Receiver's own
	min     int // viewers from which a track fans out in parallel
	jobs    chan fanJob
	quit    chan struct{}
	wg      sync.WaitGroup
}

// fanJob is one share of a frame's fan-out.
type fanJob struct {
	t     *Track
	r     *Receiver
	batch []batchPacket
	share []*DownTrack
	sent  *int // where the worker leaves how many packets it sent
	done  *sync.WaitGroup
}

// fanState is what a Receiver keeps for its parallel fan-outs, so that handing out a frame
// allocates nothing: only the Receiver's own goroutine uses it.
type fanState struct {
	wg      sync.WaitGroup
	sent    [maxFanoutWorkers]int
	pending [maxFanoutWorkers]int // shares no worker was free to take
}

// newFanPool starts workers-1 goroutines (the Receiver is the last worker); nil when
// workers is 1: one core gains nothing from handing work around.
func newFanPool(workers, min int) *fanPool {
	if workers <= 1 {
		return nil
	}
	p := &fanPool{workers: workers, min: min, jobs: make(chan fanJob), quit: make(chan struct{})}
	for range workers - 1 {
		p.wg.Add(1)
		go p.work()
	}
	return p
}

func (p *fanPool) work() {
	defer p.wg.Done()
	for {
		select {
		case j := <-p.jobs:
			*j.sent = j.t.forwardShare(j.r, j.batch, j.share)
			j.done.Done()
		case <-p.quit:
			return
		}
	}
}

// close stops the workers; a fan-out still running afterwards does every share itself.
func (p *fanPool) close() {
	if p == nil {
		return
	}
	close(p.quit)
	p.wg.Wait()
}

// forward fans batch out over shares (one per lane) and returns the packets sent. A share
// goes to a worker only if one is idle at that moment (the channel is unbuffered); the
// Receiver does the rest itself, so a busy pool slows a room down to one core's pace, never
// below it, and a pool that has been closed simply does everything here.
func (p *fanPool) forward(t *Track, r *Receiver, batch []batchPacket, shares [][]*DownTrack) int {
	f := &r.fan
	own := f.pending[:0]
	handed := false
	for i, share := range shares {
		f.sent[i] = 0
		if len(share) == 0 {
			continue
		}
		f.wg.Add(1)
		select {
		case p.jobs <- fanJob{t: t, r: r, batch: batch, share: share, sent: &f.sent[i], done: &f.wg}:
			fanoutShares.Inc()
			handed = true
		default:
			f.wg.Done()
			own = append(own, i)
		}
	}
	if handed {
		// A worker woken by a send is queued to run next on this goroutine's own core, and
		// another core takes it only once this one blocks: measured, the worker started
		// 85 µs late, after the share done here, and the fan-out ran on one core. Yielding
		// once moves this goroutine to the global queue, where an idle core picks it up
		// within microseconds while the worker starts here.
		runtime.Gosched()
	}
	sent := 0
	for _, i := range own {
		sent += t.forwardShare(r, batch, shares[i])
	}
	f.wg.Wait()
	for i := range shares {
		sent += f.sent[i]
	}
	return sent
}

// viewerSet is a Track's copy-on-write list of DownTracks, also split by send lane for the
// parallel fan-out. It is rebuilt on every change (join, leave, a viewer's new address) and
// read without a lock.
type viewerSet struct {
	all    []*DownTrack
	shares [][]*DownTrack // by lane; nil without a fan-out pool
}

// newViewerSet builds the set of all, split over lanes when there is more than one.
func newViewerSet(all []*DownTrack, lanes int) *viewerSet {
	vs := &viewerSet{all: all}
	if lanes <= 1 {
		return vs
	}
	vs.shares = make([][]*DownTrack, lanes)
	for _, dt := range all {
		l := int(dt.lane.Load()) % lanes
		vs.shares[l] = append(vs.shares[l], dt)
	}
	return vs
}
