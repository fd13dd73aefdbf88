package auth

import (
	"fmt"
	"time"
)

// maxLeeway is the most clock skew Config allows: livekit's parser already refuses
// tokens more than a minute past their expiry, so a longer leeway would not take effect.
const maxLeeway = time.Minute

// Config tunes token verification.
type Config struct {
	// TokenLeeway is how long after its exp (and before its nbf) a token is still
	// accepted, for clocks that disagree. Tokens cannot be revoked, so every second here
	// is a second longer a leaked token works.
	TokenLeeway time.Duration `yaml:"token_leeway"`
}

// DefaultConfig tolerates 10 s of skew: NTP keeps servers well within it, and a
// minter's clock far off is a bug to see, not to hide.
func DefaultConfig() Config {
	return Config{TokenLeeway: 10 * time.Second}
}

// Validate reports the first setting that cannot work.
func (c Config) Validate() error {
	if c.TokenLeeway < 0 || c.TokenLeeway > maxLeeway {
		return fmt.Errorf("auth: token_leeway must be 0..%v, got %v", maxLeeway, c.TokenLeeway)
	}
	return nil
}
