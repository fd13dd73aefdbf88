package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/sfu"
)

// Directory is the room directory: one entry per live room, naming its origin. Entries
// expire unless put again (bus.Directory, a NATS KV bucket).
type Directory interface {
	Put(ctx context.Context, room string, value []byte) error
	Get(ctx context.Context, room string) (value []byte, revision uint64, ok bool, err error)
	// Delete removes the entry if it is still at revision.
	Delete(ctx context.Context, room string, revision uint64) error
	// PutSub, DeleteSub and ListSubs keep entries under a room's: the nodes relaying it
	// (cluster.go).
	PutSub(ctx context.Context, room, sub string, value []byte) error
	DeleteSub(ctx context.Context, room, sub string) error
	ListSubs(ctx context.Context, room string) (map[string][]byte, error)
}

// Entry is a room's directory entry.
type Entry struct {
	Node string `json:"node"` // the origin's bus node id
	URL  string `json:"url"`  // the origin's HTTP base URL, as the other nodes reach it
	// Since is when the room's host went live on the origin (Unix ms): of two nodes with a
	// host for one room, the later host's node is the origin, as on one node a second
	// host replaces the first.
	Since int64 `json:"since"`
	// Viewers is the origin's WebRTC viewers of the room when it last announced it, the
	// relays' sessions included (cluster.go).
	Viewers int `json:"viewers"`
}

// NodeLister is the node directory (bus.Directory): a Directory that lists its entries.
type NodeLister interface {
	Directory
	List(ctx context.Context) (map[string][]byte, error)
}

// Options configure the relays of a node.
type Options struct {
	SFU       *sfu.SFU
	Directory Directory
	// Nodes is the node directory (nodes.go); nil: this node does not announce itself and
	// Nodes lists it alone.
	Nodes     NodeLister
	Node      string // this node's bus node id
	URL       string // this node's HTTP base URL, as the other nodes reach it
	PublicURL string // this node's HTTP base URL, as clients reach it; empty: URL
	// Token returns a token that lets this node watch room at its origin (every node of
	// a cluster shares the API key and secret).
	Token func(room string) (string, error)
	// Watching reports whether a room has viewers that are not WebRTC sessions (LL-HLS):
	// a relay stays up for them too. nil: WebRTC viewers only.
	Watching func(room string) bool
	// Hints carry origin hints (hints.go); nil: the directory alone.
	Hints Hints
	// Announce is how often this node puts its rooms in the directory (well within
	// bus.DirectoryTTL); Idle is how long a relay with no viewer on this node lasts.
	Announce, Idle time.Duration
	Log            *zap.Logger
}

// Relays are a node's pulls from other nodes and its announcements of its own rooms.
type Relays struct {
	opts     Options
	api      *webrtc.API // towards origins on other machines
	loopAPI  *webrtc.API // towards origins on loopback (nodes on one machine, tests)
	client   *http.Client
	stop     chan struct{}
	wg       sync.WaitGroup
	announce map[string]int64  // Run's: rooms this node put in the directory, with their Since
	ended    map[string]uint64 // Run's: rooms whose host a later one replaced, with its stage session
	poke     chan struct{}     // Announce: announce now

	mu       sync.Mutex
	pulls    map[string]*pull
	sessions map[uint64]bool // host sessions of relays (Peer.Session), to tell their events apart
	closed   bool

	started int64 // when New ran (Unix ms): this node's Since in the node directory

	nodesMu sync.Mutex
	nodes   []NodeEntry // the last listing (Nodes), from nodesAt
	nodesAt time.Time
	// listing: a read of the node directory is under way behind a stale listing.
	listing bool

	relayDir sync.Mutex // orders relay entries' puts and deletes (cluster.go)

	hints     hintBook // the other nodes' origin hints (hints.go)
	stopHints func()
}

// maxRelaySessions bounds the remembered relay sessions (a relay's events arrive after
// it ends; older ones are long told).
const maxRelaySessions = 4096

// New makes a node's relays; Start announces its rooms until Close.
func New(opts Options) (*Relays, error) {
	if opts.SFU == nil || opts.Directory == nil || opts.Token == nil || opts.Node == "" || opts.URL == "" {
		return nil, errors.New("relay: SFU, Directory, Token, Node and URL are required")
	}
	if opts.Announce <= 0 {
		opts.Announce = 5 * time.Second
	}
	if opts.Idle <= 0 {
		opts.Idle = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.PublicURL == "" {
		opts.PublicURL = opts.URL
	}
	api, err := newAPI(false)
	if err != nil {
		return nil, err
	}
	loopAPI, err := newAPI(true)
	if err != nil {
		return nil, err
	}
	return &Relays{opts: opts, api: api, loopAPI: loopAPI, client: &http.Client{Timeout: 10 * time.Second},
		stop: make(chan struct{}), pulls: map[string]*pull{}, sessions: map[uint64]bool{},
		announce: map[string]int64{}, ended: map[string]uint64{}, poke: make(chan struct{}, 1), started: time.Now().UnixMilli()}, nil
}

// Want is a viewer asking this node for room: when no host has joined it here and the
// directory names another node as its origin, a relay from there starts (one per room).
// It reports whether a relay runs or is starting, so the caller may wait for the room.
func (r *Relays) Want(room string) bool {
	if !roomname.Valid(room) {
		return false
	}
	r.mu.Lock()
	p, closed := r.pulls[room], r.closed
	r.mu.Unlock()
	if p != nil || closed {
		return p != nil
	}
	if r.Hosting(room) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	e, ok, err := r.Origin(ctx, room)
	if err != nil {
		r.opts.Log.Warn("room directory unavailable: not relaying", zap.String("room", room), zap.Error(err))
		return false
	}
	if !ok || e.Node == r.opts.Node {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	if r.pulls[room] == nil {
		p := &pull{relays: r, room: room, origin: e, log: r.opts.Log.With(zap.String("room", room), zap.String("origin", e.URL)), started: time.Now()}
		r.pulls[room] = p
		r.wg.Go(p.run)
	}
	return true
}

// Hosting reports whether a host other than a relay has joined room on this node
// (publishing or about to: a relay must not take the stage from it).
func (r *Relays) Hosting(room string) bool {
	sr := r.opts.SFU.Room(room)
	if sr == nil {
		return false
	}
	joined, stage, ok := sr.Hosts()
	return joined > 0 && !(ok && joined == 1 && r.IsRelaySession(stage))
}

// Origin is room's entry in the directory: the node that hosts it; ok is false when no
// node announces it.
func (r *Relays) Origin(ctx context.Context, room string) (e Entry, ok bool, err error) {
	e, _, ok, err = r.origin(ctx, room)
	return e, ok, err
}

// A hint newer than the directory's entry stands for it (hints.go), with revision 0: it
// is not the directory's, so no conditional delete may act on it. With a hint held, the
// directory gets hintedLookup to answer, not the caller's whole timeout: while its stream
// has no leader (a node died) a read hangs until the deadline, and a viewer that failed
// over to this node waited those 2 s for its relay to start (TestBrowserFailsOverToAnotherNode
// failed so in 2 of 8 runs: no frame within 3 s of the failover).
func (r *Relays) origin(ctx context.Context, room string) (e Entry, revision uint64, ok bool, err error) {
	h, held := r.hints.get(room, time.Now())
	if held {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, hintedLookup)
		defer cancel()
	}
	e, revision, ok, err = r.directoryOrigin(ctx, room)
	if held && (err != nil || !ok || h.Since > e.Since) {
		return h, 0, true, nil
	}
	return e, revision, ok, err
}

// hintedLookup is how long a directory read may take when a hint can answer instead: a
// healthy directory answers in milliseconds, even on a loaded machine. A hint older than
// the directory's entry wins only when the directory is that slow and the newer origin's
// own hint was lost; its withdrawal (a "gone" hint) or the next lookup puts it right.
const hintedLookup = 300 * time.Millisecond

// directoryOrigin is room's entry in the directory alone.
func (r *Relays) directoryOrigin(ctx context.Context, room string) (e Entry, revision uint64, ok bool, err error) {
	raw, revision, ok, err := r.opts.Directory.Get(ctx, room)
	if err != nil || !ok {
		return Entry{}, 0, false, err
	}
	if json.Unmarshal(raw, &e) != nil || e.Node == "" || e.URL == "" {
		return Entry{}, 0, false, nil
	}
	return e, revision, true, nil
}

// Relaying reports whether this node relays room from another node.
func (r *Relays) Relaying(room string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pulls[room] != nil
}

// OriginNode is the node (its bus node id) this node relays room from; "" when it does not
// relay it.
func (r *Relays) OriginNode(room string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pulls[room]; p != nil {
		return p.origin.Node
	}
	return ""
}

// IsRelaySession reports whether session (Peer.Session, Event.Session) is a relay's host
// session: its tracks are another node's host's.
func (r *Relays) IsRelaySession(session uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[session]
}

func (r *Relays) addSession(session uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sessions) >= maxRelaySessions {
		clear(r.sessions)
	}
	r.sessions[session] = true
}

func (r *Relays) idle() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opts.Idle
}

func (r *Relays) done(p *pull) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pulls[p.room] == p {
		delete(r.pulls, p.room)
	}
}

// Start announces this node and its rooms (Run) until Close.
func (r *Relays) Start() {
	if r.opts.Hints != nil {
		stop, err := r.opts.Hints.Receive(func(data []byte) { r.hints.take(data, time.Now()) })
		if err != nil {
			r.opts.Log.Warn("origin hints not received: the directory alone names origins", zap.Error(err))
		} else {
			r.stopHints = stop
		}
	}
	r.wg.Go(r.run)
}

// run puts this node in the node directory, and every room hosted on this node (and not
// relayed) in the room directory, every Announce, and takes out those that ended, until
// Close.
func (r *Relays) run() {
	t := time.NewTicker(r.opts.Announce)
	defer t.Stop()
	for {
		r.announceRooms()
		r.announceSelf()
		select {
		case <-r.stop:
			r.withdrawAll()
			return
		case <-t.C:
		case <-r.poke:
		}
	}
}

// Announce has Run update the directory now (a host went live or left), not at its next
// tick.
func (r *Relays) Announce() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// hostedRooms are the rooms whose host on the stage here is not a relay's session.
func (r *Relays) hostedRooms() map[string]bool {
	live := map[string]bool{}
	for _, info := range r.opts.SFU.Rooms() {
		if !info.Publishing {
			continue
		}
		if sr := r.opts.SFU.Room(info.Name); sr != nil {
			if _, stage, ok := sr.Hosts(); ok && !r.IsRelaySession(stage) {
				live[info.Name] = true
			}
		}
	}
	return live
}

func (r *Relays) announceRooms() {
	live := r.hostedRooms()
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Announce)
	defer cancel()
	for room := range live {
		if stage, ok := r.ended[room]; ok {
			if sr := r.opts.SFU.Room(room); sr != nil {
				if _, now, _ := sr.Hosts(); now == stage {
					continue // the replaced host has not left the stage yet: never announce it again
				}
			}
			delete(r.ended, room)
		}
		since, ok := r.announce[room]
		if !ok {
			since = time.Now().UnixMilli()
		}
		if e, ok, err := r.Origin(ctx, room); err == nil && ok && e.Node != r.opts.Node && e.Since > since {
			r.replaced(room, e)
			continue
		}
		viewers := 0
		if sr := r.opts.SFU.Room(room); sr != nil {
			viewers = sr.Info().Viewers
		}
		e := Entry{Node: r.opts.Node, URL: r.opts.URL, Since: since, Viewers: viewers}
		r.sendHint(room, e, false)
		r.announce[room] = since // hinted: withdrawn (and said so) when the host leaves
		value, _ := json.Marshal(e)
		if err := r.opts.Directory.Put(ctx, room, value); err != nil {
			r.opts.Log.Warn("room not announced in the directory", zap.String("room", room), zap.Error(err))
		}
	}
	for room := range r.announce {
		if !live[room] {
			r.withdraw(ctx, room)
		}
	}
	for room := range r.ended {
		if !live[room] {
			delete(r.ended, room)
		}
	}
}

// replaced ends this node's host of room, which a later host on another node replaced
// (the directory names that node), and has this node relay the room from there for its
// own viewers.
func (r *Relays) replaced(room string, e Entry) {
	r.sendHint(room, Entry{Node: r.opts.Node, Since: r.announce[room]}, true)
	delete(r.announce, room)
	sr := r.opts.SFU.Room(room)
	if sr == nil {
		return
	}
	_, stage, _ := sr.Hosts()
	if !sr.EndHost() {
		return
	}
	r.ended[room] = stage
	r.opts.Log.Info("host replaced by a later host on another node", zap.String("room", room), zap.String("origin", e.URL))
	r.wg.Go(func() {
		// The ended host leaves the stage as its session closes; then relay the room for
		// this node's viewers. The directory may not answer for a while (a cluster that
		// just healed elects its leaders again): ask until a relay runs.
		for deadline := time.Now().Add(replacedRetry); time.Now().Before(deadline); {
			select {
			case <-r.stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			if r.Hosting(room) {
				continue
			}
			if sr := r.opts.SFU.Room(room); sr == nil || sr.Info().Viewers == 0 || r.Want(room) {
				return
			}
		}
	})
}

// replacedRetry bounds how long a node whose host was replaced tries to relay the room
// from the new origin for its viewers.
const replacedRetry = 30 * time.Second

// withdraw takes room out of the directory unless another node has put it since (a host
// who moved to another node): the delete holds only at the revision read.
func (r *Relays) withdraw(ctx context.Context, room string) {
	r.sendHint(room, Entry{Node: r.opts.Node, Since: r.announce[room]}, true)
	delete(r.announce, room)
	if e, revision, ok, err := r.directoryOrigin(ctx, room); err == nil && ok && e.Node == r.opts.Node {
		_ = r.opts.Directory.Delete(ctx, room, revision)
	}
}

func (r *Relays) withdrawAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for room := range r.announce {
		r.withdraw(ctx, room)
	}
	r.withdrawNode(ctx)
}

// announceSelf puts this node in the node directory and its relays under their rooms.
func (r *Relays) announceSelf() {
	ctx, cancel := context.WithTimeout(context.Background(), r.opts.Announce)
	defer cancel()
	r.announceNode(ctx)
	r.announceRelays(ctx)
}

// Close stops every relay and the announcements (taking this node's rooms out of the
// directory) and waits for them.
func (r *Relays) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	close(r.stop)
	r.mu.Unlock()
	r.wg.Wait()
	if r.stopHints != nil {
		r.stopHints()
	}
}

// SetIdle changes how long a relay with no viewer lasts (tests).
func (r *Relays) SetIdle(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts.Idle = d
}
