package datachannel

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/poll"
)

// Polls across nodes. A vote is counted on the node it reached. Every node with something
// to say about a poll (it opened or closed it, or holds votes for it) reports it on the
// bus (topic pollTopic): the poll as opened, which opening it is, this node's tally and
// whether it closed. A room's tally is its own plus the latest report of each other node.
// A report is the node's whole tally, so one lost on the bus is mended by the next (they
// repeat every reportHeartbeat while the poll is open, and for pollClosedReports after it
// closed); a node that dies keeps its votes counted (its last report stays). A tally is
// keyed by the room that counted it (a node's id and the room's instance, made at each
// start), so a room that retires (nobody connected for RoomIdle) and starts again on the
// same node adds to its earlier tally rather than replacing it; when a room starts and
// asks (syncTopic), the others relay the tallies they hold of that node's earlier rooms,
// so the new room learns its old one too (if a room of the name lives on another node to
// keep it). A poll closes
// on every node at its deadline, or when any node reports it closed; a vote that reached a
// node before it heard of the close is in that node's final report. A room that starts on
// a node asks the others to report at once (syncTopic) rather than wait a heartbeat.
//
// Weak spots, by design: one identity voting on two nodes (a viewer who moved node while a
// poll was open), or in two instances of a room on one node, is counted on both; a room
// knows only its own voters. A poll opened again under its id is told apart by when it
// opened, on the opening node's clock: nodes' clocks must agree to within the time
// between two openings of one id.

// Bus topics of node reports (not client events): a poll's, questions' (qna_remote.go),
// and a room's request for every report at once.
const (
	pollTopic = "poll.node"
	qnaTopic  = "qna.node"
	syncTopic = "reports.sync"
)

// reportHeartbeat is how often a node repeats its reports of open polls and questions;
// pollClosedReports is how long it goes on reporting a closed poll.
const (
	reportHeartbeat   = 5 * time.Second
	pollClosedReports = 30 * time.Second
)

// pollEntry is one poll of a room: the poll with this node's votes, which opening of its
// id it is, and the other nodes' tallies. Owned by the room's goroutine.
type pollEntry struct {
	poll     *poll.Poll
	opened   int64                // unix ms
	openedBy string               // node
	others   map[string]versioned // by tallyKey
	version  uint64               // of this room's own tally: bumped at each change

	ownVotes  bool      // this node counted a vote, opened or closed it: it reports
	reportDue bool      // something this node reports changed since its last report
	reportAt  time.Time // when it last reported
	othersNew bool      // a report changed the tally since the last broadcast
}

// versioned is a room's tally with its version, so that a copy relayed late never
// replaces a newer one.
type versioned struct {
	poll.Tally
	version uint64
}

// newer reports whether e is a later opening of its poll id than (opened, by).
func (e *pollEntry) newer(opened int64, by string) bool {
	return e.opened > opened || e.opened == opened && e.openedBy > by
}

// snapshot is the poll's state with every node's votes.
func (e *pollEntry) snapshot() poll.Snapshot {
	if len(e.others) == 0 {
		return e.poll.Snapshot()
	}
	others := make([]poll.Tally, 0, len(e.others))
	for _, t := range e.others {
		others = append(others, t.Tally)
	}
	return e.poll.SnapshotWith(others...)
}

// nodePoll is one room's report of one poll: its own tally, or (Origin set) another
// room's, relayed on a sync.
type nodePoll struct {
	Spec     poll.Spec  `json:"spec"`
	Opened   int64      `json:"opened"`
	OpenedBy string     `json:"openedBy"`
	Tally    poll.Tally `json:"tally"`
	Closed   int64      `json:"closed,omitempty"` // unix ms; 0 while open
	Room     string     `json:"room"`             // the reporting room's instance
	Origin   string     `json:"origin,omitempty"` // whose tally, when relayed: its tallyKey
	Version  uint64     `json:"version"`          // the tally's, in its counting room

	node string
}

// tallyKey names the room that counted a tally: its node and instance.
func tallyKey(node, instance string) string { return node + "/" + instance }

// counter is whose tally a report carries.
func (p *nodePoll) counter() string {
	if p.Origin != "" {
		return p.Origin
	}
	return tallyKey(p.node, p.Room)
}

// reportPolls publishes this node's report of each poll whose report is due: changed,
// or unchanged for reportHeartbeat while open or lately closed. sync forces every report.
func (r *room) reportPolls(now time.Time, sync bool) {
	for _, id := range r.pollOrder {
		e := r.polls[id]
		if !e.ownVotes {
			continue
		}
		closedAt, closed := e.poll.Closed()
		stale := now.Sub(e.reportAt) >= reportHeartbeat && (!closed || now.Sub(closedAt) < pollClosedReports)
		if !e.reportDue && !stale && !sync {
			continue
		}
		if r.publishPoll(e, versioned{e.poll.Tally(), e.version}, "") {
			e.reportDue, e.reportAt = false, now
		}
	}
}

// relayPolls publishes, for a room that just started on node, the tallies this room holds
// of that node's earlier rooms: the only ones it cannot have from the rooms that counted
// them (a room of this name on that node has gone).
func (r *room) relayPolls(node string) {
	for _, id := range r.pollOrder {
		e := r.polls[id]
		for origin, t := range e.others {
			if strings.HasPrefix(origin, node+"/") {
				r.publishPoll(e, t, origin)
			}
		}
	}
}

// publishPoll publishes one report of e with tally t: this room's (origin "") or
// another's.
func (r *room) publishPoll(e *pollEntry, t versioned, origin string) bool {
	rep := nodePoll{Spec: e.poll.Spec(), Opened: e.opened, OpenedBy: e.openedBy, Tally: t.Tally, Version: t.version,
		Room: r.instance, Origin: origin}
	if closedAt, closed := e.poll.Closed(); closed {
		rep.Closed = closedAt.UnixMilli()
	}
	data, _ := json.Marshal(rep)
	if err := r.hub.bus.Publish(r.name, pollTopic, data); err != nil {
		r.log.Debug("publishing a poll report", zap.Error(err))
		return false
	}
	return true
}

// onRemotePoll applies another node's report: a poll opened there (or opened again), its
// tally, its close.
func (r *room) onRemotePoll(p *nodePoll) {
	counter := p.counter()
	if counter == tallyKey(r.hub.bus.Node(), r.instance) {
		return // this room's own tally, relayed back
	}
	id := p.Spec.ID
	e, ok := r.polls[id]
	switch {
	case ok && e.opened == p.Opened && e.openedBy == p.OpenedBy:
	case ok && e.newer(p.Opened, p.OpenedBy):
		return // a report of an earlier opening of this id
	default:
		var err error
		if e, err = r.adoptPoll(p); err != nil {
			r.log.Warn("ignoring a poll opened on another node", zap.String("poll", id), zap.String("node", p.node), zap.Error(err))
			return
		}
	}
	if e.others == nil {
		e.others = map[string]versioned{}
	}
	old, known := e.others[counter]
	switch {
	case known && old.version > p.Version:
		// a copy relayed late: the newer one stays
	case !known || old.Voters != p.Tally.Voters || !slices.Equal(old.Counts, p.Tally.Counts):
		e.others[counter] = versioned{p.Tally, p.Version}
		e.othersNew = true // broadcast at the next tick; a heartbeat that changed nothing is not
	default:
		e.others[counter] = versioned{p.Tally, p.Version}
	}
	if _, closed := e.poll.Closed(); p.Closed != 0 && !closed {
		_ = e.poll.Close(time.UnixMilli(p.Closed))
		e.poll.TakeChanged()
		e.othersNew = true
		e.reportDue = e.ownVotes // our final tally, with every vote that came in until now
	}
}

// adoptPoll opens here a poll another node opened, in place of any earlier opening of its
// id.
func (r *room) adoptPoll(p *nodePoll) (*pollEntry, error) {
	pl, err := poll.Open(p.Spec, time.UnixMilli(p.Opened))
	if err != nil {
		return nil, err
	}
	if _, ok := r.polls[p.Spec.ID]; !ok {
		// A closed poll is taken only into a free place: evicting another closed one for
		// it would have that one come back with its next report, and so on round.
		if p.Closed != 0 && len(r.pollOrder) >= maxPolls {
			return nil, errBadPayload("no free place for a closed poll")
		}
		if !r.makeRoomForPoll() {
			return nil, errBadPayload("this node holds the most open polls a room may have")
		}
	}
	e := &pollEntry{poll: pl, opened: p.Opened, openedBy: p.OpenedBy}
	r.addPoll(e)
	if now := r.hub.now(); pl.Due(now) { // past its deadline already: closed as every node closes it
		_ = pl.Close(p.Spec.Deadline)
	}
	return e, nil
}

// decodePoll reads a node's poll report off the bus.
func decodePoll(node string, data []byte) (*nodePoll, bool) {
	var p nodePoll
	if json.Unmarshal(data, &p) != nil || p.Spec.ID == "" || len(p.Tally.Counts) != len(p.Spec.Options) || p.Tally.Voters > 100_000_000 {
		return nil, false
	}
	for _, c := range p.Tally.Counts {
		if c < 0 || c > p.Tally.Voters {
			return nil, false
		}
	}
	p.node = node
	return &p, true
}

// randomInstance names one start of a room on a node.
func randomInstance() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
