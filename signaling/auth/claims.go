package auth

import (
	"fmt"
	"time"
)

// Claims is what a verified token says about its holder. The permission fields are the
// effective values after LiveKit's defaults (an unset canPublish means true, and so on).
type Claims struct {
	Identity string
	Name     string
	Room     string

	RoomJoin       bool
	CanPublish     bool
	CanSubscribe   bool
	CanPublishData bool
	RoomAdmin      bool
	// RoomList (LiveKit's roomList) lets the holder list every room on the server and read
	// each one's state; it is not scoped to the token's room and allows nothing in a room.
	RoomList bool
	// RoomCreate (LiveKit's roomCreate) lets the holder create and delete any room (the
	// Twirp RoomService's DeleteRoom); not scoped to the token's room.
	RoomCreate bool

	ExpiresAt time.Time
}

// Allow returns nil if the claims allow p in room, or an error wrapping ErrForbidden that
// names the missing grant.
//
// Every permission is scoped to the grant's room: a grant naming no room allows nothing
// here, because an empty room would otherwise read as "every room". RoomAdmin implies all
// permissions within its room. Publish, subscribe and data also need roomJoin (LiveKit's
// join gate) and an identity, since the SFU and chat key participants by it.
func (c *Claims) Allow(room string, p Permission) error {
	if c == nil {
		return fmt.Errorf("%w: no claims", ErrForbidden)
	}
	if p < PermPublish || p > PermAdmin {
		return fmt.Errorf("%w: unknown permission %v", ErrForbidden, p)
	}
	if c.Room == "" {
		return fmt.Errorf("%w: token names no room", ErrForbidden)
	}
	if c.Room != room {
		return fmt.Errorf("%w: token is for room %q, not %q", ErrForbidden, c.Room, room)
	}
	if c.RoomAdmin {
		return nil
	}
	if p == PermAdmin {
		return fmt.Errorf("%w: token lacks roomAdmin", ErrForbidden)
	}
	if !c.RoomJoin {
		return fmt.Errorf("%w: token lacks roomJoin", ErrForbidden)
	}
	if c.Identity == "" {
		return fmt.Errorf("%w: token has no identity", ErrForbidden)
	}
	if !c.has(p) {
		return fmt.Errorf("%w: token lacks %v", ErrForbidden, p)
	}
	return nil
}

func (c *Claims) has(p Permission) bool {
	switch p {
	case PermPublish:
		return c.CanPublish
	case PermSubscribe:
		return c.CanSubscribe
	case PermPublishData:
		return c.CanPublishData
	}
	return false
}

// AllowList returns nil if the claims may list the server's rooms (LiveKit's roomList
// grant), or an error wrapping ErrForbidden.
func (c *Claims) AllowList() error {
	if c == nil {
		return fmt.Errorf("%w: no claims", ErrForbidden)
	}
	if !c.RoomList {
		return fmt.Errorf("%w: token lacks roomList", ErrForbidden)
	}
	return nil
}
