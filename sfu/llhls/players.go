package llhls

import (
	"hash/maphash"
	"net"
	"net/http"
	"sync"
	"time"
)

// Players: how many players read a room's LL-HLS. A player asks for its media playlist
// every part (a blocking reload), so the distinct clients (address and User-Agent) that
// asked within playerWindow are the players. Behind a CDN the clients are its edges, and a
// household behind one address with one browser counts once: there, count at the CDN.

// playerWindow is how long a player counts after its last playlist request: several
// target durations, so that a player between reloads (or retrying) is not dropped.
const playerWindow = 10 * time.Second

// maxPlayersPerRoom bounds what a room's count remembers (a flood of made-up User-Agents
// must not grow it without end); beyond it, the count stops rising.
const maxPlayersPerRoom = 200_000

// players is the per-room record of recent clients.
type players struct {
	mu    sync.Mutex
	seed  maphash.Seed
	rooms map[string]map[uint64]int64 // room -> client -> last request (unix nanos)
	adds  int                         // since the last sweep
}

func newPlayers() *players {
	return &players{seed: maphash.MakeSeed(), rooms: map[string]map[uint64]int64{}}
}

// saw records a media playlist request of room.
func (p *players) saw(room string, r *http.Request, now time.Time) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	var h maphash.Hash
	h.SetSeed(p.seed)
	h.WriteString(host)
	h.WriteByte(0)
	h.WriteString(r.UserAgent())
	key := h.Sum64()
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := p.rooms[room]
	if seen == nil {
		seen = map[uint64]int64{}
		p.rooms[room] = seen
	}
	if _, ok := seen[key]; !ok && len(seen) >= maxPlayersPerRoom {
		return
	}
	seen[key] = now.UnixNano()
	if p.adds++; p.adds >= 4096 {
		p.adds = 0
		p.sweepLocked(now)
	}
}

// count is how many clients asked for room's playlists within playerWindow.
func (p *players) count(room string, now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	cut := now.Add(-playerWindow).UnixNano()
	for key, at := range p.rooms[room] {
		if at < cut {
			delete(p.rooms[room], key)
			continue
		}
		n++
	}
	if n == 0 {
		delete(p.rooms, room)
	}
	return n
}

// sweepLocked forgets the clients not seen within playerWindow, in every room.
func (p *players) sweepLocked(now time.Time) {
	cut := now.Add(-playerWindow).UnixNano()
	for room, seen := range p.rooms {
		for key, at := range seen {
			if at < cut {
				delete(seen, key)
			}
		}
		if len(seen) == 0 {
			delete(p.rooms, room)
		}
	}
}

// Players is how many players read room's LL-HLS from this node now: the distinct clients
// that asked for one of its media playlists within the last 10 s.
func (o *Origin) Players(room string) int { return o.players.count(room, time.Now()) }
