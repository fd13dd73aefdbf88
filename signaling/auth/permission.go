package auth

import "strconv"

// Permission is an action within a room that a token's grant may allow.
type Permission int

const (
	// PermPublish sends media into the room (WHIP, RTMP, the SDK's publish).
	PermPublish Permission = iota + 1
	// PermSubscribe receives the room's media (WHEP, LL-HLS, the SDK's play).
	PermSubscribe
	// PermPublishData sends interaction events: chat, bids, votes, gifts.
	PermPublishData
	// PermAdmin moderates the room: polls, auctions, kicking, ending the stream.
	PermAdmin
)

// String names the permission after the LiveKit grant field that allows it, so error
// messages point a LiveKit user at the claim to fix.
func (p Permission) String() string {
	switch p {
	case PermPublish:
		return "canPublish"
	case PermSubscribe:
		return "canSubscribe"
	case PermPublishData:
		return "canPublishData"
	case PermAdmin:
		return "roomAdmin"
	}
	return "Permission(" + strconv.Itoa(int(p)) + ")"
}
