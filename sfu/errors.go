package sfu

import "errors"

var (
	// ErrTooManyRooms: the node already hosts Config.MaxRooms rooms.
	ErrTooManyRooms = errors.New("sfu: too many rooms")
	// ErrRoomFull: the room has Config.MaxViewersPerRoom viewers, or its measured fan-out
	// load has no room for another (Config.MaxFanoutLoad).
	ErrRoomFull = errors.New("sfu: room is full")
	// ErrNodeFull: this process's measured CPU load has no room for another viewer
	// (Config.MaxCPULoad); another node, or LL-HLS, may take the viewer.
	ErrNodeFull = errors.New("sfu: this node is at capacity")
	// ErrNoRoom: the room does not exist and the caller may not create it.
	ErrNoRoom = errors.New("sfu: no such room")
	// ErrUnsupportedCodec: a published track uses a codec the SFU does not forward.
	ErrUnsupportedCodec = errors.New("sfu: unsupported codec")
	// ErrClosed: the SFU or room is shutting down.
	ErrClosed = errors.New("sfu: closed")
	// ErrBusy: Config.MaxHandshakes sessions are already being set up and none finished
	// within Config.HandshakeWait, or this client already has its share of them (refused at
	// once); the client should retry shortly.
	ErrBusy = errors.New("sfu: busy setting up sessions")
	// ErrNoMedia: an offer carries no audio or video the SFU can use.
	ErrNoMedia = errors.New("sfu: offer has no usable audio or video")
)

var (
	// ErrBadOffer: the SDP offer could not be applied (malformed or nothing negotiable).
	ErrBadOffer = errors.New("sfu: bad offer")
	// ErrReplaced: a host session's track arrived after a newer session took the stage.
	ErrReplaced = errors.New("sfu: publisher session was replaced")
	// ErrBadCandidate: a trickled ICE candidate could not be parsed or applied.
	ErrBadCandidate = errors.New("sfu: bad ICE candidate")
)
