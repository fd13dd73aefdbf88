package datachannel

import "testing"

// TestClientIDsFollowTheIDRule: a lot id, bid id, gift key or poll id that others will
// see must match [A-Za-z0-9._:-]{1,64}; bidi overrides, line breaks and controls are
// refused as bad_payload, while the ids clients send today (UUIDs, "b1") pass.
func TestClientIDsFollowTheIDRule(t *testing.T) {
	h := newTestHub(t, hubOpts{})
	host := join(t, h, claims("host", true, true))
	alice := join(t, h, claims("alice", true, false))
	openLot(t, host, "lot-1", 60_000)
	for _, bad := range []string{"a\u202eb", "b\nx", "with space", "\x1b[2J", "é"} {
		host.send(TypeAuctionOpen, "o", auctionOpen{LotID: bad, StartPrice: 1, Increment: 1, DurationMs: 1000})
		host.wantError("o", CodeBadPayload)
		alice.sendEnv(&Envelope{Type: TypeAuctionBid, ID: "bid", Payload: mustPayload(auctionBid{LotID: "lot-1", BidID: bad, Amount: 100})})
		alice.wantError("bid", CodeBadPayload)
		alice.send(TypeGiftSend, "g", giftSend{Key: bad, Gift: "rose", Amount: 100, Currency: "EUR"})
		alice.wantError("g", CodeBadPayload)
		host.send(TypePollOpen, "p", pollOpen{PollID: bad, Question: "Q?", Options: []string{"a", "b"}, DurationMs: 1000})
		host.wantError("p", CodeBadPayload)
	}
	alice.sendEnv(&Envelope{Type: TypeAuctionBid, ID: "b1", Payload: mustPayload(auctionBid{LotID: "lot-1", BidID: "b1", Amount: 100})})
	alice.wantAck("b1")
	alice.send(TypeGiftSend, "g", giftSend{Key: "0b6f3c1e-8a4d-4e2b-9c1a-7d5e3f2a1b0c", Gift: "rose", Amount: 100, Currency: "EUR"})
	alice.wantAck("g")
	host.send(TypePollOpen, "p", pollOpen{PollID: "poll:1.a_b", Question: "Q?", Options: []string{"a", "b"}, DurationMs: 1000})
	host.wantAck("p")
}
