package datachannel

// Message types a client may send. Anything else is an error event with
// [CodeUnknownType].
const (
	TypeChatSend    = "chat.send"
	TypeChatDelete  = "chat.delete"
	TypeChatPin     = "chat.pin"
	TypeChatMute    = "chat.mute"
	TypeChatUnmute  = "chat.unmute"
	TypeChatBan     = "chat.ban"
	TypeChatSlow    = "chat.slow"
	TypePollOpen    = "poll.open"
	TypePollVote    = "poll.vote"
	TypePollClose   = "poll.close"
	TypeQnaAsk      = "qna.ask"
	TypeQnaUpvote   = "qna.upvote"
	TypeQnaAnswer   = "qna.answer"
	TypeQnaDismiss  = "qna.dismiss"
	TypeAuctionOpen = "auction.open"
	TypeAuctionBid  = "auction.bid"
	TypeAuctionEnd  = "auction.close"
	TypeGiftSend    = "gift.send"
	TypeAlertShow   = "alert.show"
	TypeSync        = "sync"
	TypePing        = "ping"
	TypeMediaLayer  = "media.layer"
)

// Message types the server sends.
const (
	TypeWelcome         = "welcome"
	TypeAck             = "ack"
	TypeError           = "error"
	TypePong            = "pong"
	TypeChatMessage     = "chat.message"
	TypeChatDeleted     = "chat.deleted"
	TypeChatPinned      = "chat.pinned"
	TypeChatHistory     = "chat.history"
	TypeChatMissed      = "chat.missed"
	TypeChatModeration  = "chat.moderation"
	TypeChatSlowMode    = "chat.slowmode"
	TypePollState       = "poll.state"
	TypeQnaQuestion     = "qna.question"
	TypeAuctionState    = "auction.state"
	TypeAuctionAccepted = "auction.bid.accepted"
	TypeAuctionOutbid   = "auction.outbid"
	TypeAuctionClosed   = "auction.closed"
	TypeGiftAlert       = "gift.alert"
	TypeAlert           = "alert"
	TypePresence        = "presence"
	TypeMediaClock      = "media.clock"
	TypeMediaLayers     = "media.layers"
	TypeRoomLive        = "room.live"
	TypeRoomEnded       = "room.ended"
	TypeRoomQuality     = "room.quality"
)

// need says what a client type requires of the sender's token.
type need int

const (
	needNothing need = iota // anyone connected, anonymous included
	needData                // canPublishData
	needAdmin               // roomAdmin
)

// clientTypes maps each type a client may send to the grant it needs. Some types are
// further checked by the room (deleting someone else's chat message needs roomAdmin).
var clientTypes = map[string]need{
	TypeChatSend:    needData,
	TypeChatDelete:  needData,
	TypeChatPin:     needAdmin,
	TypeChatMute:    needAdmin,
	TypeChatUnmute:  needAdmin,
	TypeChatBan:     needAdmin,
	TypeChatSlow:    needAdmin,
	TypePollOpen:    needAdmin,
	TypePollVote:    needData,
	TypePollClose:   needAdmin,
	TypeQnaAsk:      needData,
	TypeQnaUpvote:   needData,
	TypeQnaAnswer:   needAdmin,
	TypeQnaDismiss:  needData,
	TypeAuctionOpen: needAdmin,
	TypeAuctionBid:  needData,
	TypeAuctionEnd:  needAdmin,
	TypeGiftSend:    needData,
	TypeAlertShow:   needAdmin,
	TypeSync:        needNothing,
	TypePing:        needNothing,
	TypeMediaLayer:  needNothing, // a viewer's own picture; no grant beyond watching
}

// IsClientType reports whether t is a type a client may send.
func IsClientType(t string) bool { _, ok := clientTypes[t]; return ok }
