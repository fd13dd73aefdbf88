package datachannel

import (
	"fmt"
	"testing"
)

// TestSlowReaderIsSkippedAhead stalls one connection's transport while the room chats
// and bids. The stalled one must not hold anybody up; when it wakes it gets a "missed N"
// marker for the chat it lost, the latest lot state instead of every intermediate one,
// and every ack meant for it.
func TestSlowReaderIsSkippedAhead(t *testing.T) {
	const queue = 16
	h := newTestHub(t, hubOpts{cfg: func(c *Config) {
		c.SendQueue, c.RateBurst, c.RatePerSecond = queue, 1000, 1000
		c.Chat.Burst, c.Chat.Rate = 1000, 1000
	}})
	host := join(t, h, claims("host", true, true))
	fast := join(t, h, claims("fast", true, false))
	other := join(t, h, claims("other", true, false))
	slowTr := newFake(true)
	slow := joinWith(t, h, claims("slow", true, false), slowTr)
	openLot(t, host, "lot", 60_000)

	const chats, bids = 100, 30
	// Chat in small batches the fast reader keeps up with, checking it gets every
	// message in order while the slow one is stuck.
	for i := 0; i < chats; i++ {
		host.send(TypeChatSend, "", chatSend{Text: fmt.Sprint("msg ", i)})
		if i%8 == 7 || i == chats-1 {
			for j := i - i%8; j <= i; j++ {
				if p := payloadOf(t, fast.next(TypeChatMessage)); p["text"] != fmt.Sprint("msg ", j) {
					t.Fatalf("fast reader: message %d is %v", j, p["text"])
				}
			}
		}
	}
	for i := 0; i < bids; i++ {
		who := other
		if i%2 == 1 {
			who = fast
		}
		id := fmt.Sprint("bid", i)
		who.sendEnv(bidEnv("lot", id, int64(100+10*i), 0))
		who.wantAck(id)
	}
	slowTr.open()
	missed := payloadOf(t, slow.next(TypeChatMissed))
	if num(missed["count"]) == 0 {
		t.Fatalf("missed %v", missed)
	}
	st := slow.nextWhere(TypeAuctionState, func(p map[string]any) bool { return num(p["bids"]) == bids })
	if num(st["highAmount"]) != int64(100+10*(bids-1)) {
		t.Fatalf("resynced lot %v", st)
	}
	// Chat messages delivered plus missed add up to what was sent.
	got, accepted := 0, 0
	for _, e := range slow.drain() {
		switch e.Type {
		case TypeChatMessage:
			got++
		case TypeAuctionAccepted:
			accepted++
		}
	}
	t.Logf("slow reader: %d chat messages delivered, %d skipped with a marker", got, num(missed["count"]))
	// The marker counts every skipped stream event: chat and bid announcements.
	if int64(got+accepted)+num(missed["count"]) != chats+bids {
		t.Fatalf("%d chats + %d bid announcements delivered, %d skipped; want %d in all", got, accepted, num(missed["count"]), chats+bids)
	}
	if got >= chats {
		t.Fatalf("the slow reader got all %d messages; the queue of %d never overflowed", got, queue)
	}
	// The slow reader is still a working connection.
	slow.send(TypeChatSend, "after", chatSend{Text: "back"})
	slow.wantAck("after")
}
