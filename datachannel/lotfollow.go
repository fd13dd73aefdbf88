package datachannel

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/bus"
)

// Following lots that other nodes change. A node hears of a change from another node's
// auction.state event (core NATS: fire and forget) and reads what changed from the lot's
// log (JetStream). Around a network split and its heal either step can fail: the event
// is lost while the routes are set up again, or the log answers "unavailable" while
// JetStream elects. A CI run of TestClusterSplitHeals had a cut-off node that never
// showed a close made after the heal: it read the log once, was refused, and nothing
// read it again. So the log, not the event, is what a node follows: a read that failed
// is tried again with back-off, and every open lot's log is read again every
// LotFollowInterval even when no event came. The reads run off the room's goroutine,
// one batch at a time, so a bus that does not answer never stalls the room's chat.
// A lot opened elsewhere whose event was lost is not in any log this node reads, so each
// node also repeats, every LotFollowInterval, an open lot's auction.state on the bus
// (beatLots): a node that never heard of the lot loads it, and one behind reads on.
// A room whose lots could not all be read when it started (JetStream still recovering
// after a restart) reads them all again, with back-off, until it has: otherwise a lot
// would stay unknown here, never shown and, on a single node, never closed.

// follow is when a lot's log is read next.
type follow struct {
	at       time.Time     // zero: at the next chance
	wait     time.Duration // the back-off after failed reads; 0 after a good one
	failures int           // failed reads in a row
	want     uint64        // the newest log sequence an event told of
}

const (
	followRetryFirst = 250 * time.Millisecond
	followRetryMax   = 10 * time.Second
)

// heard notes an event telling of the log at seq: read at the next chance, unless reads
// are failing (their back-off stands).
func (f *follow) heard(seq uint64) {
	f.want = max(f.want, seq)
	if f.wait == 0 {
		f.at = time.Time{}
	}
}

// failed backs off: 250 ms doubling, at most 10 s and never longer than the regular read.
func (f *follow) failed(now time.Time, every time.Duration) {
	f.failures++
	f.wait = bus.Backoff(followRetryFirst, min(followRetryMax, every), f.failures)
	f.at = now.Add(f.wait)
}

// read schedules the next read after a good one that reached last. An event that came
// during the read, of a record it may have missed, makes the next read come at once,
// once: want is then forgotten, so a sequence that is not in the log (trimmed by age)
// cannot make it read without end.
func (f *follow) read(now time.Time, every time.Duration, last uint64) {
	f.wait, f.failures, f.at = 0, 0, now.Add(every)
	if last < f.want {
		f.at = time.Time{}
	}
	f.want = 0
}

// beatLots publishes, on the bus only (this node's connections have it), the state of
// each open lot whose beat is due, with where its log ends here.
func (r *room) beatLots(now time.Time) {
	for _, e := range r.lots {
		if _, closed := e.lot.Closed(); closed || now.Before(e.beatAt) {
			continue
		}
		e.beatAt = now.Add(r.hub.cfg.LotFollowInterval)
		if err := r.hub.bus.Publish(r.name, TypeAuctionState, r.encodeFor(TypeAuctionState, "", r.stateOf(e.lot, now))); err != nil {
			r.log.Debug("repeating a lot's state on the bus", zap.Error(err))
		}
	}
}

// lotRead is one lot's log as read off the room's goroutine.
type lotRead struct {
	lotID string // "": every lot of the room (relist)
	from  uint64 // the first sequence wanted; 0: the whole log, for a lot not loaded here
	recs  []bus.Record
	err   error
}

// log is the log lotRead reads.
func (rd *lotRead) log(room string) bus.Log {
	if rd.lotID == "" {
		return bus.AuctionLogs(room)
	}
	return bus.AuctionLog(room, rd.lotID)
}

// lotChanged asks for a read of a lot another node changed (seq is its log's last
// sequence there), or of one it opened.
func (r *room) lotChanged(lotID string, seq uint64) {
	e, ok := r.lots[lotID]
	switch {
	case lotID == "":
		return // "" reads every lot (relist)
	case ok && e.last >= seq:
		return // old news
	case ok:
		e.follow.heard(seq)
	case r.unloaded[lotID] != nil:
		r.unloaded[lotID].heard(seq)
	case len(r.unloaded) >= maxUnloaded:
		r.log.Warn("too many lots heard of and not yet read; ignoring one", zap.String("lot", lotID))
		return
	default:
		r.unloaded[lotID] = &follow{want: seq}
	}
	r.followLots(r.hub.now())
}

// maxUnloaded bounds the lots a room waits to read, so events naming made-up lots cannot
// grow it without end.
const maxUnloaded = 256

// followLots starts a read of every lot whose time has come, unless one is under way.
func (r *room) followLots(now time.Time) {
	if r.reading {
		return
	}
	var reads []lotRead
	for id, e := range r.lots {
		if _, closed := e.lot.Closed(); closed || now.Before(e.follow.at) {
			continue // a close is a lot's last record
		}
		reads = append(reads, lotRead{lotID: id, from: e.last + 1})
	}
	for id, f := range r.unloaded {
		if !now.Before(f.at) {
			reads = append(reads, lotRead{lotID: id})
		}
	}
	if r.relist != nil && !now.Before(r.relist.at) {
		reads = append(reads, lotRead{from: r.relistFrom})
	}
	if len(reads) == 0 {
		return
	}
	r.reading = true
	r.hub.wg.Add(1)
	go r.readLots(reads)
}

// readLots reads the logs and hands them to the room's goroutine. After a failed read the
// rest of the batch is not tried: a bus that times out would hold every other lot's
// back-off for a bus_timeout each.
func (r *room) readLots(reads []lotRead) {
	defer r.hub.wg.Done()
	var failed error
	for i := range reads {
		rd := &reads[i]
		if failed != nil {
			rd.err = fmt.Errorf("not read: %w", failed)
			continue
		}
		timeout := r.hub.cfg.BusTimeout
		if rd.from == 0 && rd.lotID != "" {
			timeout *= 6 // a whole log, as replayLots allows (a relist goes on where it stopped)
		}
		ctx, cancel := context.WithTimeout(r.hub.ctx, timeout)
		rd.err = r.hub.bus.Replay(ctx, rd.log(r.name), rd.from, func(rec bus.Record) error {
			rd.recs = append(rd.recs, rec)
			return nil
		})
		cancel()
		failed = rd.err
	}
	select {
	case r.inbox <- command{lotReads: reads}:
	case <-r.done:
	}
}

// onLotReads applies what readLots read, on the room's goroutine.
func (r *room) onLotReads(reads []lotRead) {
	r.reading = false
	now := r.hub.now()
	for _, rd := range reads {
		switch {
		case rd.lotID == "":
			r.relistRead(rd, now)
		case rd.from == 0:
			r.loadRead(rd, now)
		default:
			r.followRead(rd, now)
		}
	}
	r.followLots(now) // what came due meanwhile
}

// followRead applies the records of a lot's log that this room has not seen.
func (r *room) followRead(rd lotRead, now time.Time) {
	e := r.lots[rd.lotID]
	if e == nil {
		return // lots are never dropped; this is for safety
	}
	if rd.err != nil {
		e.follow.failed(now, r.hub.cfg.LotFollowInterval)
		r.log.Warn("reading a lot's log; trying again", zap.String("lot", rd.lotID), zap.Duration("after", e.follow.wait), zap.Error(rd.err))
		return
	}
	r.applyNew(e, rd.recs)
	e.follow.read(now, r.hub.cfg.LotFollowInterval, e.last)
}

// applyNew applies, in order, the records of e's log after e.last.
func (r *room) applyNew(e *lotEntry, recs []bus.Record) {
	for _, rec := range recs {
		if rec.Seq <= e.last {
			continue // applied meanwhile (this node's own bids)
		}
		if err := r.applyRecord(e, rec); err != nil {
			// Every node refuses it alike; reading it again would not change that.
			r.log.Error("skipping a record of a lot's log that does not apply", zap.String("lot", e.lot.Spec().LotID),
				zap.Uint64("seq", rec.Seq), zap.Error(err))
			e.last = rec.Seq
		}
	}
}

// relistRead takes the room's lots as read again after a start that could not read
// them: those not here are built, those here catch up. What a failed read got is a
// prefix of the room's records in log order, so it is taken too and the next read goes
// on after it: a log too long to read within bus_timeout is read in several.
func (r *room) relistRead(rd lotRead, now time.Time) {
	if r.relist == nil {
		return // cannot happen: only a relist reads every lot
	}
	if n := len(rd.recs); n > 0 {
		r.relistFrom = rd.recs[n-1].Seq + 1
	}
	r.takeLots(rd.recs)
	if rd.err != nil {
		r.relist.failed(now, r.hub.cfg.LotFollowInterval)
		r.log.Warn("reading the room's lots again; trying again", zap.Duration("after", r.relist.wait), zap.Error(rd.err))
		return
	}
	r.relist = nil
	r.log.Info("the room's lots are read after all", zap.Int("lots", len(r.lots)))
}

// takeLots builds the lots of recs not here and catches up those here.
func (r *room) takeLots(recs []bus.Record) {
	byLot := map[string][]bus.Record{}
	for _, rec := range recs {
		byLot[rec.Log.Lot()] = append(byLot[rec.Log.Lot()], rec)
	}
	for id, recs := range byLot {
		if e := r.lots[id]; e != nil {
			r.applyNew(e, recs)
		} else {
			r.buildRead(id, recs)
		}
	}
}

// loadRead builds a lot another node opened from its whole log.
func (r *room) loadRead(rd lotRead, now time.Time) {
	f := r.unloaded[rd.lotID]
	if f == nil {
		return
	}
	if rd.err != nil {
		f.failed(now, r.hub.cfg.LotFollowInterval)
		r.log.Warn("loading a lot opened on another node; trying again", zap.String("lot", rd.lotID), zap.Duration("after", f.wait), zap.Error(rd.err))
		return
	}
	delete(r.unloaded, rd.lotID)
	if r.lots[rd.lotID] != nil || len(rd.recs) == 0 {
		return // loaded meanwhile, or nothing there (an event naming no lot)
	}
	if e := r.buildRead(rd.lotID, rd.recs); e != nil {
		e.follow.want = f.want // an event that came during the read
		e.follow.read(now, r.hub.cfg.LotFollowInterval, e.last)
	}
}

// buildRead builds a lot not here from its records as read and shows it to the room;
// nil when they do not make a lot (logged).
func (r *room) buildRead(id string, recs []bus.Record) *lotEntry {
	found := &lotRecords{}
	for _, rec := range recs {
		found.add(r.log, rec)
	}
	r.buildLots(map[string]*lotRecords{id: found})
	e := r.lots[id]
	if e != nil {
		r.broadcastLot(e.lot)
	}
	return e
}
