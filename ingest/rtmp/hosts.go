package rtmp

import (
	"sync"
	"time"

	"github.com/glintlive/glint/sfu"
)

// Host is an RTMP host publishing on this server: the room and identity of its stream
// key's token, and when its stream went on the stage. The room API lists it among the
// room's participants and can end it; the room webhooks announce it.
type Host struct {
	Room, Identity string
	Since          time.Time
}

// hostSet is the hosts publishing now, by host session.
type hostSet struct {
	mu    sync.Mutex
	hosts map[*sfu.Peer]Host
	ended map[*sfu.Peer]bool // ended by End (the room API), for the session's log line
}

func (hs *hostSet) add(p *sfu.Peer, h Host) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.hosts == nil {
		hs.hosts = map[*sfu.Peer]Host{}
	}
	hs.hosts[p] = h
}

// remove forgets p.
func (hs *hostSet) remove(p *sfu.Peer) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	delete(hs.hosts, p)
	delete(hs.ended, p)
}

// endedByAPI reports whether End ended p.
func (hs *hostSet) endedByAPI(p *sfu.Peer) bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.ended[p]
}

// Hosts are the RTMP hosts publishing now.
func (s *Server) Hosts() []Host {
	s.hosts.mu.Lock()
	defer s.hosts.mu.Unlock()
	out := make([]Host, 0, len(s.hosts.hosts))
	for _, h := range s.hosts.hosts {
		out = append(out, h)
	}
	return out
}

// End ends the streams identity publishes to room (their connections close, as when the
// room is ended), and says how many.
func (s *Server) End(room, identity string) int {
	s.hosts.mu.Lock()
	var ending []*sfu.Peer
	for p, h := range s.hosts.hosts {
		if h.Room == room && h.Identity == identity {
			ending = append(ending, p)
			if s.hosts.ended == nil {
				s.hosts.ended = map[*sfu.Peer]bool{}
			}
			s.hosts.ended[p] = true
		}
	}
	s.hosts.mu.Unlock()
	for _, p := range ending {
		p.Close()
	}
	return len(ending)
}
