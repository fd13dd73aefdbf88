package chat

import (
	"fmt"
	"time"
)

// Config bounds a room's chat.
type Config struct {
	MaxLen  int     `yaml:"max_len"` // bytes of text per message
	History int     `yaml:"history"` // messages kept for joiners
	Rate    float64 `yaml:"rate"`    // messages per second per identity, sustained
	Burst   int     `yaml:"burst"`   // messages an identity may send at once
}

// DefaultConfig is what rooms start with.
func DefaultConfig() Config { return Config{MaxLen: 500, History: 50, Rate: 1, Burst: 5} }

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	switch {
	case c.MaxLen < 1 || c.MaxLen > 64<<10:
		return fmt.Errorf("chat: max_len must be 1..65536, got %d", c.MaxLen)
	case c.History < 0 || c.History > 10000:
		return fmt.Errorf("chat: history must be 0..10000, got %d", c.History)
	case c.Rate <= 0:
		return fmt.Errorf("chat: rate must be positive, got %v", c.Rate)
	case c.Burst < 1:
		return fmt.Errorf("chat: burst must be at least 1, got %d", c.Burst)
	}
	return nil
}

// MaxSlowMode is the longest slow-mode interval a moderator may set.
const MaxSlowMode = time.Hour
