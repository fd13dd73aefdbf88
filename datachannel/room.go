package datachannel

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/chat"
	"github.com/glintlive/glint/datachannel/gift"
	"github.com/glintlive/glint/datachannel/qna"
)

// command is one thing for a room's goroutine to do.
type command struct {
	conn *Conn
	env  *Envelope
	join bool
	// remote is an event another node published for this room (see watchBus).
	remote *Envelope
	// presence is another node's presence count (presence_remote.go).
	presence *nodePresence
	// poll and qna are another node's report of a poll (poll_remote.go) or of questions
	// (qna_remote.go); sync asks for every report of this node.
	poll     *nodePoll
	qna      *nodeQna
	sync     bool
	syncFrom string // the asking node
	// lotReads is what the lot follower read from the logs (lotfollow.go).
	lotReads []lotRead
}

// room is one room: its connections, its state machines and the goroutine that owns them.
type room struct {
	name   string
	hub    *Hub
	log    *zap.Logger
	clock  MediaClock
	limits *limiter

	inbox chan command
	stop  chan struct{} // closed by Hub.Close
	done  chan struct{} // closed when run returns

	members int // joined and not yet left; guarded by hub.mu

	connsMu sync.Mutex
	conns   atomic.Pointer[[]*Conn] // copy-on-write: fan-out reads without a lock

	snaps sync.Map // state key -> latest encoded state envelope, for resyncs

	wakes *coalescer // when fanned-out events wake the writers; owned by run's goroutine

	// Owned by run's goroutine.
	seq          uint64
	chat         *chat.Room
	polls        map[string]*pollEntry // poll_remote.go
	pollOrder    []string
	board        *qna.Board
	lots         map[string]*lotEntry
	unloaded     map[string]*follow // lots other nodes opened, not read yet (lotfollow.go)
	reading      bool               // a lot follower's read is under way
	relist       *follow            // non-nil while the lots could not all be read at start (lotfollow.go)
	relistFrom   uint64             // the log sequence the relist reads on from
	gifts        *gift.Ledger
	lastTally    time.Time
	qnaReportAt  time.Time // this node's last heartbeat of its questions (qna_remote.go)
	lastPresence time.Time
	lastViewers  int       // the count last broadcast
	host         HostState // the host state last broadcast
	emptySince   time.Time

	instance string // this start of the room on this node (poll_remote.go's tallyKey)

	remotePresence remotePresence // other nodes' counts
	sentPresence   nodePresence   // this node's report as last published on the bus
	sentPresenceAt time.Time
	keepWhileLive  atomic.Bool // Hub.Open: no retiring while this node's own host is live
}

func newRoom(h *Hub, name string) *room {
	r := &room{name: name, hub: h, log: h.log.With(zap.String("room", name)),
		limits: newLimiter(h.cfg.RatePerSecond, h.cfg.RateBurst),
		inbox:  make(chan command, 256), stop: make(chan struct{}), done: make(chan struct{}),
		chat: newChat(h), polls: map[string]*pollEntry{}, board: newBoard(h),
		lots: map[string]*lotEntry{}, unloaded: map[string]*follow{}, gifts: gift.NewLedger(100000), wakes: newCoalescer(h.cfg.Coalesce),
		instance: randomInstance()}
	if h.opts.Clocks != nil {
		r.clock = h.opts.Clocks(name)
	}
	empty := []*Conn{}
	r.conns.Store(&empty)
	return r
}

// tickEvery is how often a room looks at deadlines, throttled broadcasts and idleness.
const tickEvery = 50 * time.Millisecond

func (r *room) run() {
	defer r.hub.wg.Done()
	defer close(r.done)
	// Follow other nodes first, then read the logs: an event published meanwhile waits
	// in the inbox (and is a no-op if the restore already has it) instead of being lost.
	defer r.watchBus()()
	r.restore()
	// A lot whose deadline passed while no node served the room (a crash, a restart) is
	// closed now, at its end time, before the first joiner is shown it as open.
	r.closeDueLots(r.hub.now())
	r.host, _ = r.pollHost() // joiners are told it; ticks announce changes from here
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	defer r.wakes.stop()
	for {
		select {
		case <-r.stop:
			return
		case cmd := <-r.inbox:
			r.handle(cmd)
		case now := <-r.wakes.timer.C:
			r.wakes.fired(now)
			for _, c := range r.connList() {
				c.wakeIfPending()
			}
		case <-tick.C:
			if r.tick(r.hub.now()) {
				return
			}
		}
	}
}

// tick closes what is due, broadcasts throttled tallies and presence, and retires the
// room once it has been empty for RoomIdle. It reports whether the room retired.
func (r *room) tick(now time.Time) bool {
	r.closeDue(now)
	r.followLots(now)
	r.beatLots(now)
	r.checkHost()
	if now.Sub(r.lastTally) >= r.hub.cfg.TallyInterval {
		r.lastTally = now
		r.flushTallies(now)
		r.reportQna(now, false)
	}
	if now.Sub(r.lastPresence) >= r.hub.cfg.PresenceInterval {
		// Polled rather than signalled: WebRTC viewers come and go in the SFU.
		r.publishPresence(now)
		if v := r.viewers(); v != r.lastViewers {
			r.lastPresence, r.lastViewers = now, v
			r.broadcast(TypePresence, "", map[string]int{"viewers": v}, classState, "presence")
		}
	}
	// A room opened for a host live here stays: the relaying nodes hear of the host from it.
	if len(r.connList()) > 0 || (r.keepWhileLive.Load() && r.host.Live && !r.relaying()) {
		r.emptySince = time.Time{}
		return false
	}
	if r.emptySince.IsZero() {
		r.emptySince = now
	}
	return now.Sub(r.emptySince) >= r.hub.cfg.RoomIdle && r.hub.retire(r)
}

func (r *room) handle(cmd command) {
	if cmd.lotReads != nil {
		r.onLotReads(cmd.lotReads)
		return
	}
	if cmd.remote != nil {
		r.onRemote(cmd.remote)
		return
	}
	if cmd.presence != nil {
		r.onRemotePresence(cmd.presence)
		return
	}
	if cmd.poll != nil {
		r.onRemotePoll(cmd.poll)
		return
	}
	if cmd.qna != nil {
		r.onRemoteQna(cmd.qna)
		return
	}
	if cmd.sync {
		r.sentPresenceAt = time.Time{} // a new room elsewhere: report at the next tick
		r.reportPolls(r.hub.now(), true)
		r.relayPolls(cmd.syncFrom)
		r.reportQna(r.hub.now(), true)
		return
	}
	if cmd.join {
		// The host's state as it is now, not as the last tick saw it: a viewer whose
		// media started with a host that went live since (a relay that just opened the
		// room for it) would be told "not started", then "live" a tick later, and its
		// player would leave live for a moment. Those already here hear of it now too.
		r.checkHost()
		r.add(cmd.conn)
		r.sendWelcome(cmd.conn)
		r.sendState(cmd.conn)
		return
	}
	if err := r.dispatch(cmd.conn, cmd.env); err != nil {
		cmd.conn.sendError(cmd.env.ID, err, r.hub.now())
	}
}

// dispatch routes one checked command to its handler.
func (r *room) dispatch(c *Conn, env *Envelope) error {
	switch env.Type {
	case TypeChatSend, TypeChatDelete, TypeChatPin, TypeChatMute, TypeChatUnmute, TypeChatBan, TypeChatSlow:
		return r.onChat(c, env)
	case TypePollOpen, TypePollVote, TypePollClose:
		return r.onPoll(c, env)
	case TypeQnaAsk, TypeQnaUpvote, TypeQnaAnswer, TypeQnaDismiss:
		return r.onQna(c, env)
	case TypeAuctionOpen, TypeAuctionBid, TypeAuctionEnd:
		return r.onAuction(c, env)
	case TypeGiftSend:
		return r.onGift(c, env)
	case TypeAlertShow:
		return r.onAlert(c, env)
	case TypeSync:
		r.sendState(c)
		c.ack(env, nil)
		return nil
	}
	return ErrUnknownType // unreachable: Decode admits only known types
}

// add puts c on the fan-out list.
func (r *room) add(c *Conn) {
	r.connsMu.Lock()
	defer r.connsMu.Unlock()
	// A connection closed before its join was handled has already left; adding it now
	// would keep it on the list forever. close sets closed before leave takes connsMu,
	// so checking under connsMu cannot miss a close.
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	old := *r.conns.Load()
	next := make([]*Conn, len(old), len(old)+1)
	copy(next, old)
	next = append(next, c)
	r.conns.Store(&next)
}

// leave takes c off the fan-out list. It never waits for the room's goroutine.
func (r *room) leave(c *Conn) {
	r.connsMu.Lock()
	old := *r.conns.Load()
	next := make([]*Conn, 0, len(old))
	for _, o := range old {
		if o != c {
			next = append(next, o)
		}
	}
	r.conns.Store(&next)
	r.connsMu.Unlock()
	r.hub.mu.Lock()
	r.members--
	delete(r.hub.live, c)
	connsGauge.Dec()
	r.hub.mu.Unlock()
}

func (r *room) connList() []*Conn { return *r.conns.Load() }

// envelope builds a server message stamped with the media clock.
func (r *room) envelope(typ, id, from string, payload any) *Envelope {
	return &Envelope{V: Version, Type: typ, ID: id, Room: r.name, From: from,
		MediaTime: stamp(r.clock, r.hub.now()), Payload: mustPayload(payload)}
}

// encodeFor encodes a message for one connection (no room sequence number).
func (r *room) encodeFor(typ, id string, payload any) []byte {
	b, _ := json.Marshal(r.envelope(typ, id, "", payload))
	return b
}

// broadcast stamps an event with the room's next sequence number and the media clock,
// encodes it once and queues it on every connection. State events are also kept as the
// latest state for their key, for connections that must resync.
func (r *room) broadcast(typ, from string, payload any, cl class, key string) *Envelope {
	return r.broadcastAt(typ, from, payload, cl, key, 0)
}

// broadcastAt is broadcast with the event's mediaTime given (0: the live edge, as
// broadcast).
func (r *room) broadcastAt(typ, from string, payload any, cl class, key string, mediaTime int64) *Envelope {
	r.seq++
	env := r.envelope(typ, "", from, payload)
	if mediaTime != 0 {
		env.MediaTime = mediaTime
	}
	env.Seq = r.seq
	data, _ := json.Marshal(env)
	if cl == classState {
		r.snaps.Store(key, data)
	}
	r.fanOut(outgoing{data: data, class: cl, key: key})
	if f := r.hub.opts.OnEvent; f != nil {
		f(r.name, typ, env.Seq, env.MediaTime, data)
	}
	if remoteTypes[typ] { // the kinds other nodes act on (remote.go); the rest stay here
		if err := r.hub.bus.Publish(r.name, typ, data); err != nil {
			r.log.Debug("publishing to the bus", zap.Error(err))
		}
	}
	return env
}

// fanOut queues o on every connection. The writers wake now or at the coalescer's next
// wake, so a busy room writes each connection once per interval rather than per event.
func (r *room) fanOut(o outgoing) {
	wake := r.wakes.now(time.Now())
	for _, c := range r.connList() {
		c.push(o, wake)
	}
}

// sendTo queues a message for every connection of one identity (e.g. "you were outbid").
func (r *room) sendTo(identity, typ string, payload any) {
	data := r.encodeFor(typ, "", payload)
	for _, c := range r.connList() {
		if c.identity == identity {
			c.enqueue(outgoing{data: data, class: classControl})
		}
	}
}

// snapshot returns the latest state for key, for a connection that dropped it.
func (r *room) snapshot(key string) []byte {
	if v, ok := r.snaps.Load(key); ok {
		return v.([]byte)
	}
	return nil
}

// welcome is the first message on every connection.
type welcome struct {
	Identity        string `json:"identity,omitempty"`
	Name            string `json:"name,omitempty"`
	CanSend         bool   `json:"canSend"`
	Admin           bool   `json:"admin"`
	ServerTime      int64  `json:"serverTime"`
	Protocol        int    `json:"protocol"`
	MaxMessageBytes int    `json:"maxMessageBytes"`
	Seq             uint64 `json:"seq"` // the room's last event sequence number
}

func (r *room) sendWelcome(c *Conn) {
	c.reply(TypeWelcome, "", welcome{Identity: c.identity, Name: c.name, CanSend: c.canData, Admin: c.admin,
		ServerTime: r.hub.now().UnixMilli(), Protocol: Version, MaxMessageBytes: r.hub.cfg.MaxMessageBytes, Seq: r.seq})
}

// sendState sends one connection everything it needs to draw the room: chat history and
// pin, slow mode, every poll, the Q&A board and every lot. Sent on join and on sync.
func (r *room) sendState(c *Conn) {
	// Never draw a lot as open past its end: the tick may not have run since the lot
	// came in from the log (restored, or opened on another node).
	now := r.hub.now()
	r.closeDueLots(now)
	send := func(typ string, payload any) {
		c.enqueue(outgoing{data: r.encodeFor(typ, "", payload), class: classJoin})
	}
	msgs, pinned := r.chat.History()
	send(TypeChatHistory, map[string]any{"messages": nonNil(msgs), "pinned": pinned,
		"slowModeSeconds": int(r.chat.SlowMode() / time.Second)})
	for _, id := range r.pollOrder {
		send(TypePollState, r.polls[id].snapshot())
	}
	for _, q := range r.board.List() {
		send(TypeQnaQuestion, q)
	}
	for _, e := range r.lots {
		send(TypeAuctionState, r.stateOf(e.lot, now))
	}
	send(TypePresence, map[string]int{"viewers": r.viewers()})
	if r.hub.opts.Host != nil {
		send(stageEvent(r.host))
		// Always, not only while reduced: a client that reconnects (or moved to another
		// node) must learn that a reduction it was told of is over.
		send(TypeRoomQuality, qualityEvent(r.host))
	}
}

// viewers is the room's presence count: this node's and the other nodes' (see
// presence_remote.go).
func (r *room) viewers() int {
	return r.remotePresence.total(r.localViewers(), r.relaying(), r.hub.now())
}

// localViewers is the room's presence count on this node: the WebRTC audience and the
// connections that ride no media session, or every connection without an audience.
func (r *room) localViewers() int {
	audience := r.hub.opts.Audience
	if audience == nil {
		return len(r.connList())
	}
	n := audience(r.name)
	for _, c := range r.connList() {
		if !c.media {
			n++
		}
	}
	return n
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
