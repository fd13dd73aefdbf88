package auth

import (
	"errors"
	"fmt"
	"time"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/glintlive/glint/roomname"
)

// MaxTTL is the longest lifetime Issue grants. Tokens cannot be revoked, so a leaked one is
// good until it expires; a month bounds that for long-running hosts' tools.
const MaxTTL = 30 * 24 * time.Hour

// TokenOptions says whom a token is for and what it allows.
type TokenOptions struct {
	Room     string
	Identity string
	Name     string // display name, optional

	Publish   bool // canPublish: send media
	Subscribe bool // canSubscribe: receive media
	Data      bool // canPublishData: chat, bids, votes
	Admin     bool // roomAdmin: everything in the room, plus moderation
	List      bool // roomList: list every room on the server (not scoped to Room)
	Create    bool // roomCreate: create and delete any room (LiveKit's RoomService; not scoped to Room)

	TTL time.Duration // lifetime; required, at most MaxTTL
}

// Issue signs a token for o with the given API key and secret. Every permission is written
// explicitly, because LiveKit reads an absent canPublish/canSubscribe as true and an
// omitted false would silently grant it.
func Issue(apiKey, apiSecret string, o TokenOptions) (string, error) {
	if err := o.validate(apiKey, apiSecret); err != nil {
		return "", err
	}
	grant := &lkauth.VideoGrant{
		RoomJoin:       o.Room != "",
		Room:           o.Room,
		CanPublish:     &o.Publish,
		CanSubscribe:   &o.Subscribe,
		CanPublishData: &o.Data,
		RoomAdmin:      o.Admin,
		RoomList:       o.List,
		RoomCreate:     o.Create,
	}
	return lkauth.NewAccessToken(apiKey, apiSecret).
		SetIdentity(o.Identity).
		SetName(o.Name).
		SetVideoGrant(grant).
		SetValidFor(o.TTL).
		ToJWT()
}

func (o *TokenOptions) validate(apiKey, apiSecret string) error {
	switch {
	case apiKey == "" || apiSecret == "":
		return errors.New("auth: API key and secret are required")
	case o.Room == "" && !o.List && !o.Create:
		return errors.New("auth: token room is required")
	case o.Room == "" && (o.Publish || o.Subscribe || o.Data || o.Admin):
		return errors.New("auth: a token without a room can only list, create and delete rooms")
	case o.Room != "" && !roomname.Valid(o.Room):
		// Every endpoint would refuse the room: say so now, not when the token is used.
		return fmt.Errorf("auth: room %q: want %s", o.Room, roomname.Rule)
	case o.Identity == "":
		return errors.New("auth: token identity is required")
	case o.TTL <= 0:
		return errors.New("auth: token TTL must be positive")
	case o.TTL > MaxTTL:
		return fmt.Errorf("auth: token TTL %v is longer than the maximum %v", o.TTL, MaxTTL)
	}
	return nil
}
