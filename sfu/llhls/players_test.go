package llhls

import (
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestPlayersCount: distinct clients (address and User-Agent) asking for a room's media
// playlists within playerWindow count once each, per room; a client quiet for longer no
// longer counts; the count of a room stops rising at maxPlayersPerRoom.
func TestPlayersCount(t *testing.T) {
	p := newPlayers()
	t0 := time.Unix(1_800_000_000, 0)
	saw := func(p *players, room, addr, ua string, at time.Time) {
		r := httptest.NewRequest("GET", "/hls/"+room+"/f/index.m3u8", nil)
		r.RemoteAddr = addr
		r.Header.Set("User-Agent", ua)
		p.saw(room, r, at)
	}
	for i := range 5 { // one player reloading: counts once
		saw(p, "show", "10.0.0.1:5000", "Chrome", t0.Add(time.Duration(i)*time.Second))
	}
	saw(p, "show", "10.0.0.1:5001", "Firefox", t0) // same address, another browser
	saw(p, "show", "10.0.0.2:5000", "Chrome", t0)  // another address
	saw(p, "other", "10.0.0.3:5000", "Chrome", t0) // another room
	if n := p.count("show", t0.Add(5*time.Second)); n != 3 {
		t.Fatalf("show: %d players, want 3", n)
	}
	if n := p.count("other", t0.Add(5*time.Second)); n != 1 {
		t.Fatalf("other: %d players, want 1", n)
	}
	// 11 s after t0 only the player that reloaded until t0+4s is within the window.
	if n := p.count("show", t0.Add(playerWindow+time.Second)); n != 1 {
		t.Fatalf("show after the window: %d players, want 1", n)
	}
	if n := p.count("show", t0.Add(time.Hour)); n != 0 {
		t.Fatalf("show an hour on: %d players, want 0", n)
	}
	big := newPlayers()
	for i := range maxPlayersPerRoom + 10 {
		saw(big, "big", "10.0.0.9:1", strconv.Itoa(i), t0)
	}
	if n := big.count("big", t0); n != maxPlayersPerRoom {
		t.Fatalf("a flood of User-Agents: %d players, want the bound %d", n, maxPlayersPerRoom)
	}
}
