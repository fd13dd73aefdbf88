package sfu

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/glintlive/glint/roomname"
)

// SFU is one node's forwarding unit: its rooms, its sessions and the shared UDP port.
type SFU struct {
	cfg    Config
	log    *zap.Logger
	engine *engine
	// handshakes bounds sessions being set up; cert is the DTLS certificate all share.
	handshakes *handshakeGate
	cert       dtlsCert

	mu    sync.Mutex
	rooms map[string]*Room
	// byName mirrors rooms for Room, written under mu, read without it: the interaction
	// layer looks up every room's host state every 50 ms, and 10k rooms through mu would
	// be 200k acquisitions a second contending with joins.
	byName sync.Map // string -> *Room
	peers  map[*Peer]struct{}
	closed bool
	// waiting is who waits for which room to open (roomwait.go).
	waiting map[string]*roomWaiters

	viewers atomic.Int64 // on this node, all rooms: what the CPU load is scaled by
	cpu     cpuMeter

	events events // room events for OnEvent's callback (events.go)
}

// New validates cfg and opens the UDP port.
func New(cfg Config, log *zap.Logger) (*SFU, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log = log.Named("sfu")
	e, err := newEngine(&cfg, log)
	if err != nil {
		return nil, err
	}
	s := &SFU{cfg: cfg, log: log, engine: e, rooms: map[string]*Room{}, peers: map[*Peer]struct{}{},
		waiting:    map[string]*roomWaiters{},
		handshakes: newHandshakeGate(cfg.MaxHandshakes, cfg.MaxHandshakesPerClient, cfg.HandshakeWait, cfg.HandshakeLease),
		events:     events{queue: make(chan Event, eventQueue), quit: make(chan struct{})}}
	if _, err := s.cert.get(time.Now()); err != nil { // fail at start-up, not on a first session
		_ = e.close()
		return nil, err
	}
	return s, nil
}

// UDPAddr is the address ICE listens on.
func (s *SFU) UDPAddr() *net.UDPAddr { return s.engine.localAddr() }

// Config returns the configuration the SFU runs with.
func (s *SFU) Config() Config { return s.cfg }

// Join admits a participant to a room, creating the room on first use. Every Join is paired
// with Room.Leave. Limits are checked here, under one lock, so they cannot be raced past.
func (s *SFU) Join(name string, role Role) (*Room, error) { return s.join(name, role, true) }

// join is Join; with create false a room that does not exist is ErrNoRoom.
func (s *SFU) join(name string, role Role, create bool) (*Room, error) {
	if !roomname.Valid(name) {
		return nil, fmt.Errorf("%w: %q", roomname.ErrInvalid, name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if role == RoleViewer {
		// Before the room is made: a refused viewer must not leave an empty room behind.
		if err := s.admitViewer(int(s.viewers.Load())); err != nil {
			return nil, err
		}
	}
	r := s.rooms[name]
	if r == nil {
		if !create {
			return nil, fmt.Errorf("%w: %q", ErrNoRoom, name)
		}
		if len(s.rooms) >= s.cfg.MaxRooms {
			return nil, fmt.Errorf("%w (limit %d)", ErrTooManyRooms, s.cfg.MaxRooms)
		}
		r = newRoom(s, name)
		s.rooms[name] = r
		s.byName.Store(name, r)
		roomsGauge.Inc()
		s.emit(EventRoomStarted, name, 0)
		s.roomOpened(name)
	}
	if err := r.admit(role); err != nil {
		return nil, err
	}
	return r, nil
}

// Room returns the room called name, or nil. It takes no lock (see byName).
func (s *SFU) Room(name string) *Room {
	r, _ := s.byName.Load(name)
	room, _ := r.(*Room)
	return room
}

// Rooms lists the open rooms.
func (s *SFU) Rooms() []RoomInfo {
	s.mu.Lock()
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	infos := make([]RoomInfo, 0, len(rooms))
	for _, r := range rooms {
		infos = append(infos, r.Info())
	}
	return infos
}

// removeIfEmpty is the empty-room timer: the room goes only if nobody joined meanwhile.
func (s *SFU) removeIfEmpty(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	empty := r.empty()
	if empty {
		r.emptyTimer = nil
	}
	r.mu.Unlock()
	if s.rooms[r.name] == r && empty {
		delete(s.rooms, r.name)
		s.byName.Delete(r.name)
		roomsGauge.Dec()
		s.emit(EventRoomFinished, r.name, 0)
	}
}

func (s *SFU) track(p *Peer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.peers[p] = struct{}{}
	return true
}

func (s *SFU) untrack(p *Peer) {
	s.mu.Lock()
	delete(s.peers, p)
	left := len(s.peers)
	s.mu.Unlock()
	if p.PC != nil {
		s.handshakes.mem.count()
		if left == 0 { // the crowd has gone: give its memory back
			s.handshakes.mem.idle(time.Now())
		}
	}
}

// Close ends every session, stops room timers and releases the UDP port.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	peers := make([]*Peer, 0, len(s.peers))
	for p := range s.peers {
		peers = append(peers, p)
	}
	rooms := s.rooms
	s.rooms = map[string]*Room{}
	s.byName.Clear()
	s.wakeAllWaiters()
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		go func() { defer wg.Done(); p.Close() }()
	}
	wg.Wait()
	for _, r := range rooms {
		r.stopTimer()
		roomsGauge.Dec()
	}
	s.handshakes.mem.stop()
	s.events.stop()
	return s.engine.close()
}
