package datachannel

import (
	"fmt"
	"time"

	"github.com/glintlive/glint/datachannel/chat"
)

// Config tunes the interaction layer.
type Config struct {
	// MaxMessageBytes bounds one client message; longer ones are refused unparsed.
	MaxMessageBytes int `yaml:"max_message_bytes"`
	// SendQueue is how many messages wait for a slow connection before the slow-reader
	// policy starts skipping (chat) and deferring to snapshots (polls, auctions).
	SendQueue int `yaml:"send_queue"`
	// RatePerSecond and RateBurst limit every message from one identity in one room (on
	// top of chat's own limits), so a flood of votes or bids is refused early.
	RatePerSecond float64 `yaml:"rate_per_second"`
	RateBurst     int     `yaml:"rate_burst"`
	// Coalesce is the most often a busy room wakes each connection's writer for room
	// events: events within it go out together, in one frame to a client that takes
	// batched frames. The first event after a quiet spell goes at once. 0 writes every
	// event as it happens.
	Coalesce time.Duration `yaml:"coalesce"`
	// TallyInterval is the most often a poll's live tally is broadcast.
	TallyInterval time.Duration `yaml:"tally_interval"`
	// PresenceInterval is the most often the viewer count is broadcast.
	PresenceInterval time.Duration `yaml:"presence_interval"`
	// RoomIdle is how long a room with no connections keeps its polls and Q&A in memory.
	// Auctions, gifts and chat history are on the bus and come back when it reopens.
	RoomIdle time.Duration `yaml:"room_idle"`
	// MaxRooms bounds the rooms one node serves, MaxConns the connections.
	MaxRooms int `yaml:"max_rooms"`
	MaxConns int `yaml:"max_conns"`
	// Chat is the rules of every room's chat.
	Chat chat.Config `yaml:"chat"`
	// BusTimeout bounds one durable append; a bid not acknowledged by the bus in time is
	// answered with an "unavailable" error and the client retries with the same bid id.
	BusTimeout time.Duration `yaml:"bus_timeout"`
	// LotFollowInterval is how often a node reads the log of every open auction lot for
	// changes other nodes made, even when no event told it of one (an event is lost in a
	// network split or its heal), and repeats each open lot's state to the other nodes
	// (one that missed the open loads it). A read the bus refuses is tried again with
	// back-off from 250ms up to 10s or this interval, whichever is shorter.
	LotFollowInterval time.Duration `yaml:"lot_follow_interval"`
}

// DefaultConfig is what `glint serve` starts with.
func DefaultConfig() Config {
	return Config{
		MaxMessageBytes:  4 << 10,
		SendQueue:        256,
		RatePerSecond:    10,
		RateBurst:        20,
		Coalesce:         20 * time.Millisecond,
		TallyInterval:    250 * time.Millisecond,
		PresenceInterval: time.Second,
		RoomIdle:         10 * time.Minute,
		MaxRooms:         10000,
		MaxConns:         100000,
		Chat:             chat.DefaultConfig(),
		BusTimeout:       5 * time.Second,

		LotFollowInterval: 5 * time.Second,
	}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxMessageBytes < 256 || c.MaxMessageBytes > 1<<20:
		return fmt.Errorf("datachannel: max_message_bytes must be 256..1048576, got %d", c.MaxMessageBytes)
	case c.SendQueue < 8 || c.SendQueue > 1<<16:
		return fmt.Errorf("datachannel: send_queue must be 8..65536, got %d", c.SendQueue)
	case c.RatePerSecond <= 0 || c.RateBurst < 1:
		return fmt.Errorf("datachannel: rate_per_second must be positive and rate_burst at least 1")
	case c.Coalesce < 0 || c.Coalesce > MaxCoalesce:
		return fmt.Errorf("datachannel: coalesce must be 0..%v, got %v", MaxCoalesce, c.Coalesce)
	case c.TallyInterval < 10*time.Millisecond || c.PresenceInterval < 10*time.Millisecond:
		return fmt.Errorf("datachannel: tally_interval and presence_interval must be at least 10ms")
	case c.RoomIdle < time.Second:
		return fmt.Errorf("datachannel: room_idle must be at least 1s, got %v", c.RoomIdle)
	case c.MaxRooms < 1 || c.MaxConns < 1:
		return fmt.Errorf("datachannel: max_rooms and max_conns must be at least 1")
	case c.BusTimeout < 100*time.Millisecond:
		return fmt.Errorf("datachannel: bus_timeout must be at least 100ms, got %v", c.BusTimeout)
	case c.LotFollowInterval < 100*time.Millisecond || c.LotFollowInterval > time.Hour:
		return fmt.Errorf("datachannel: lot_follow_interval must be 100ms..1h, got %v", c.LotFollowInterval)
	}
	if err := c.Chat.Validate(); err != nil {
		return fmt.Errorf("datachannel: %w", err)
	}
	return nil
}
