// Package auction is the rules of one auction lot, as a pure state machine: no I/O, no
// clocks, no goroutines. The caller passes the time in and gets outcomes back.
//
// A lot opens with a start price, an increment, an optional reserve and an end time. Bids
// are idempotent by (bidder, client bid id), strictly ordered by the order Bid is called,
// and validated: the lot must be open, the amount at least the start price for the first
// bid and at least the high bid plus the increment after that, and the high bidder cannot
// outbid themselves. A bid accepted within SnipeWindow of the end pushes the end back by
// SnipeExtend (anti-sniping). Closing names the winner: the high bidder if the reserve is
// met.
//
// Durability is the caller's: every change is a [Record], and applying the same records
// in the same order to a fresh lot gives the same lot ([Lot.Apply]), which is how a
// restarted server rebuilds auctions from the bus.
package auction
