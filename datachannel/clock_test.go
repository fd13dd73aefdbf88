package datachannel

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestMediaClockStamps: events carry the room's live edge when there is one, the bid
// keeps the bidder's own mediaTime, and without media the wall clock stands in.
func TestMediaClockStamps(t *testing.T) {
	var edge atomic.Int64
	var live atomic.Bool
	clocks := func(room string) MediaClock {
		if room != room1 {
			t.Errorf("clock asked for room %q", room)
		}
		return MediaClockFunc(func() (int64, bool) { return edge.Load(), live.Load() })
	}
	h := newTestHub(t, hubOpts{opts: Options{Clocks: clocks}})
	host := join(t, h, claims("host", true, true))

	before := time.Now().UnixMilli()
	host.send(TypeChatSend, "c1", chatSend{Text: "no media yet"})
	env := host.next(TypeChatMessage)
	if env.MediaTime < before || env.MediaTime > time.Now().UnixMilli() {
		t.Fatalf("without media, mediaTime %d should be the wall clock", env.MediaTime)
	}

	edge.Store(1_650_000_000_000)
	live.Store(true)
	host.send(TypeChatSend, "c2", chatSend{Text: "live"})
	env = host.next(TypeChatMessage)
	if env.MediaTime != 1_650_000_000_000 || num(payloadOf(t, env)["mediaTime"]) != 1_650_000_000_000 {
		t.Fatalf("mediaTime %d, payload %s; want the live edge", env.MediaTime, env.Payload)
	}
	openLot(t, host, "lot", 60_000)
	edge.Store(1_650_000_000_500)
	bob := join(t, h, claims("bob", true, false))
	bob.sendEnv(bidEnv("lot", "b", 100, 1_650_000_000_123))
	bob.wantAck("b")
	acc := bob.next(TypeAuctionAccepted)
	if acc.MediaTime != 1_650_000_000_500 || num(payloadOf(t, acc)["bidMediaTime"]) != 1_650_000_000_123 {
		t.Fatalf("accepted bid: envelope mediaTime %d (want the live edge), payload %s (want the bidder's)", acc.MediaTime, acc.Payload)
	}
}

func TestSendMediaClock(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	v := join(t, h, nil)
	v.conn.SendMediaClock(MediaClockMapping{RTPTimestamp: 4294967000, MediaTime: 1_650_000_000_000, ClockRate: 90000})
	p := payloadOf(t, v.next(TypeMediaClock))
	if num(p["rtpTimestamp"]) != 4294967000 || num(p["mediaTime"]) != 1_650_000_000_000 || num(p["clockRate"]) != 90000 {
		t.Fatalf("media.clock %v", p)
	}
}

// TestAlertOnTheHostsFrame: a host's alert carries the capture time of what the host saw
// when it fired it (its own mediaTime, ahead of the live edge by the encode and uplink
// delay), bounded around the live edge; without one it is the live edge.
func TestAlertOnTheHostsFrame(t *testing.T) {
	const edge = 1_650_000_000_000
	clocks := func(string) MediaClock { return MediaClockFunc(func() (int64, bool) { return edge, true }) }
	h := newTestHub(t, hubOpts{opts: Options{Clocks: clocks}})
	host := join(t, h, claims("host", true, true))
	viewer := join(t, h, claims("v", false, false))
	for _, c := range []struct {
		sent, want int64
	}{
		{0, edge},                    // no mediaTime: the live edge
		{edge + 80, edge + 80},       // what the host saw, ahead of what the room forwarded
		{edge - 1200, edge - 1200},   // an admin watching a second behind
		{edge + 60_000, edge + 1000}, // a clock a minute ahead: clamped
		{edge - 60_000, edge - 5000}, // a minute behind: clamped
	} {
		host.sendEnv(&Envelope{Type: TypeAlertShow, ID: "a", MediaTime: c.sent,
			Payload: mustPayload(alertShow{Kind: "k", Text: "t"})})
		host.wantAck("a")
		if got := viewer.next(TypeAlert).MediaTime; got != c.want {
			t.Errorf("alert sent with mediaTime %d: stamped %d, want %d", c.sent, got, c.want)
		}
	}
}

func TestSendMediaLayers(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	host := join(t, h, claims("host", true, true))
	host.conn.SendMediaLayers([]string{"q", "h"})
	host.conn.SendMediaLayers(nil)
	if p := payloadOf(t, host.next(TypeMediaLayers)); fmt.Sprint(p["layers"]) != "[q h]" {
		t.Fatalf("media.layers %v", p)
	}
	env := host.next(TypeMediaLayers)
	if string(env.Payload) != `{"layers":[]}` || env.Seq != 0 {
		t.Fatalf("media.layers with nothing wanted: %s (seq %d), want an empty list and no seq", env.Payload, env.Seq)
	}
}
