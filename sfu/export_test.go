package sfu

import "net/netip"

// PacedViewers counts the viewer addresses the media sockets pace at some rate (pacer.go),
// for tests outside the package that drive real sessions.
func PacedViewers(s *SFU) int {
	paced := map[netip.AddrPort]bool{}
	for _, c := range s.engine.conns {
		for i := range c.lanes {
			l := &c.lanes[i]
			l.mu.Lock()
			for addr, ps := range l.pace {
				if ps.rate > 0 {
					paced[addr] = true
				}
			}
			l.mu.Unlock()
		}
	}
	return len(paced)
}

// AwaitedRooms counts the room names someone waits for (roomwait.go).
func AwaitedRooms(s *SFU) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)
}
