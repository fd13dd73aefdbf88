package datachannel

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/datachannel/usertext"
	"github.com/glintlive/glint/roomname"
	"github.com/glintlive/glint/signaling/auth"
)

// Sentinels of Hub.Join.
var (
	// ErrTooManyRooms: the node serves Config.MaxRooms rooms already.
	ErrTooManyRooms = fmt.Errorf("datachannel: too many rooms")
	// ErrTooManyConns: the node has Config.MaxConns connections already.
	ErrTooManyConns = fmt.Errorf("datachannel: too many connections")
	// ErrInvalidName: the token's identity or name breaks the text policy (usertext);
	// both are shown to everyone in the room.
	ErrInvalidName = fmt.Errorf("datachannel: token identity or name not allowed")
)

// Options are the hub's collaborators, all optional.
type Options struct {
	// Clocks gives each room's media clock; nil stamps events with the wall clock.
	Clocks Clocks
	// Audience is how many WebRTC viewers watch a room's media on this node (the SFU's
	// count), data channel or not. Presence is then that plus the connections that ride no
	// media session (WebSocket: LL-HLS viewers, integrations). nil: presence counts this
	// hub's connections.
	Audience func(room string) int
	// Relaying reports whether this node relays a room from its origin node (a cluster:
	// ingest/relay); the origin counts the relay as a viewer, so presence does not count
	// it again. nil: never.
	Relaying func(room string) bool
	// Origin is the node (its bus node id) that a relayed room comes from: its reports say
	// what its host's viewers get less of (room.quality). nil or "": not known.
	Origin func(room string) string
	// Host is a room's host state, polled every room tick: its changes are sent to every
	// connection as room.live and room.ended, and the current state on join and sync.
	// nil: no room state events.
	Host func(room string) HostState
	// TokenLeeway is the clock-skew leeway the token verifier grants past a token's
	// exp (auth.Config.TokenLeeway): a connection may send until exp plus this, so a
	// token the verifier let join is not refused on its first send.
	TokenLeeway time.Duration
	// OnEvent sees every event a room broadcasts (its type, room sequence number, mediaTime
	// in unix ms and the encoded envelope), on the room's goroutine: it must be quick. The
	// LL-HLS origin uses it to carry events in its playlists (EXT-X-DATERANGE).
	OnEvent func(room, typ string, seq uint64, mediaTimeMs int64, data []byte)
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Hub is the interaction layer of one node: a room per room name, created on first Join,
// each with its own goroutine that applies commands to the room's state machines in
// order, makes money events durable on the bus, and fans events out.
type Hub struct {
	cfg    Config
	bus    bus.Bus
	opts   Options
	log    *zap.Logger
	ctx    context.Context // cancelled by Close: ends bus calls in flight
	cancel context.CancelFunc

	mu     sync.Mutex
	rooms  map[string]*room
	live   map[*Conn]struct{} // joined and not yet left, over all rooms
	closed bool
	wg     sync.WaitGroup

	sideline chan func() // chat history appends, off the rooms' path
}

// NewHub returns a hub over b. Close it to stop every room.
func NewHub(cfg Config, b bus.Bus, opts Options, log *zap.Logger) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("datachannel: a bus is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{cfg: cfg, bus: b, opts: opts, log: log.Named("datachannel"), ctx: ctx, cancel: cancel,
		rooms: map[string]*room{}, live: map[*Conn]struct{}{}, sideline: make(chan func(), 4096)}
	h.wg.Add(1)
	go h.runSideline()
	return h, nil
}

func (h *Hub) now() time.Time { return h.opts.Now() }

// Join connects a client to a room over t. claims is nil for an anonymous viewer, who
// receives everything and may send only sync and ping; otherwise the claims' grants for
// this room decide what the client may send (canPublishData to chat, vote, bid and gift;
// roomAdmin to moderate and run polls and auctions). The caller has already decided the
// client may join at all. The caller's read loop passes each message to Conn.Receive and
// calls Conn.Close when the transport ends.
func (h *Hub) Join(name string, claims *auth.Claims, t Transport) (*Conn, error) {
	if !roomname.Valid(name) {
		return nil, fmt.Errorf("%w: %q", roomname.ErrInvalid, truncate(name, 80))
	}
	if err := checkNames(claims); err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	if len(h.live) >= h.cfg.MaxConns {
		h.mu.Unlock()
		return nil, ErrTooManyConns
	}
	r, err := h.roomLocked(name)
	if err != nil {
		h.mu.Unlock()
		return nil, err
	}
	r.members++ // under h.mu, so the room cannot retire from here on
	c := newConn(r, claims, t, h.cfg.SendQueue)
	h.live[c] = struct{}{} // so Close reaches it even before the room has added it
	connsGauge.Inc()
	h.mu.Unlock()
	select {
	case r.inbox <- command{conn: c, join: true}:
		return c, nil
	case <-r.done:
		c.Close()
		return nil, ErrClosed
	}
}

// Open starts room name on this node with no connection (or keeps the open one), for a host
// that went live here on a cluster: the room then reports its host's state to the other
// nodes (a relaying node's viewers learn of room.quality from it, presence_remote.go) while
// nobody here watches, and it stays open while the host is live.
func (h *Hub) Open(name string) error {
	if !roomname.Valid(name) {
		return fmt.Errorf("%w: %q", roomname.ErrInvalid, truncate(name, 80))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	r, err := h.roomLocked(name)
	if err != nil {
		return err
	}
	r.keepWhileLive.Store(true)
	return nil
}

// roomLocked is room name, started if it is not open; called with h.mu held.
func (h *Hub) roomLocked(name string) (*room, error) {
	if r := h.rooms[name]; r != nil {
		return r, nil
	}
	if len(h.rooms) >= h.cfg.MaxRooms {
		return nil, ErrTooManyRooms
	}
	r := newRoom(h, name)
	h.rooms[name] = r
	roomsOpen.Inc()
	h.wg.Add(1)
	go r.run()
	return r, nil
}

// checkNames applies the text policy to what the room shows of a participant.
func checkNames(claims *auth.Claims) error {
	if claims == nil {
		return nil
	}
	if err := usertext.Check(claims.Identity, usertext.Line); err != nil {
		return fmt.Errorf("%w: identity: %w", ErrInvalidName, err)
	}
	if err := usertext.Check(claims.Name, usertext.Line); err != nil {
		return fmt.Errorf("%w: name: %w", ErrInvalidName, err)
	}
	return nil
}

// retire removes an idle room, if it is still empty. It reports whether it did.
func (h *Hub) retire(r *room) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.members > 0 || h.closed {
		return false
	}
	delete(h.rooms, r.name)
	roomsOpen.Dec()
	return true
}

// Members is how many connections (data channels and WebSockets) room name has now.
func (h *Hub) Members(name string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rooms[name]; r != nil {
		return r.members
	}
	return 0
}

// ConnInfo is one interaction connection, as the room API lists it.
type ConnInfo struct {
	Identity string // "" for an anonymous viewer
	Media    bool   // rides a WebRTC session's data channel, not a WebSocket
}

// Connections lists room name's connections now.
func (h *Hub) Connections(name string) []ConnInfo {
	h.mu.Lock()
	r := h.rooms[name]
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	conns := *r.conns.Load()
	out := make([]ConnInfo, 0, len(conns))
	for _, c := range conns {
		out = append(out, ConnInfo{Identity: c.identity, Media: c.media})
	}
	return out
}

// Disconnect closes room name's connections of identity, or all of them when all is set
// (the room was ended), and returns how many it closed. A client may connect again: its
// token is still good.
func (h *Hub) Disconnect(name, identity string, all bool) int {
	h.mu.Lock()
	r := h.rooms[name]
	h.mu.Unlock()
	if r == nil {
		return 0
	}
	n := 0
	for _, c := range *r.conns.Load() {
		if all || (identity != "" && c.identity == identity) {
			c.Close()
			n++
		}
	}
	return n
}

// RoomNames lists the rooms that have connections now, in no order (a room kept idle
// for its polls and Q&A, with nobody in it, is not listed).
func (h *Hub) RoomNames() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.rooms))
	for name, r := range h.rooms {
		if r.members > 0 {
			names = append(names, name)
		}
	}
	return names
}

// Rooms is the number of rooms this hub serves.
func (h *Hub) Rooms() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.rooms)
}

// Close closes every connection and room and waits for their goroutines. The bus is the
// caller's to close, after this.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.wg.Wait()
		return
	}
	h.closed = true
	roomsOpen.Sub(float64(len(h.rooms)))
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	conns := make([]*Conn, 0, len(h.live))
	for c := range h.live {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	h.cancel()
	for _, c := range conns {
		c.Close()
	}
	for _, r := range rooms {
		close(r.stop)
	}
	close(h.sideline)
	h.wg.Wait()
}

// side runs f on the hub's sideline goroutine, or drops it (counted in the log) if that
// goroutine is far behind. Used for work that must not delay a room and may be lost in
// a crash: chat history appends. (Gifts are not: the webhook reads them from the log.)
func (h *Hub) side(what string, f func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	select {
	case h.sideline <- f:
	default:
		h.log.Warn("sideline full; dropping", zap.String("what", what))
	}
}

func (h *Hub) runSideline() {
	defer h.wg.Done()
	for f := range h.sideline {
		f()
	}
}

// MaxMessageBytes is the largest client message the hub accepts; transports size their
// read limits from it.
func (h *Hub) MaxMessageBytes() int { return h.cfg.MaxMessageBytes }
