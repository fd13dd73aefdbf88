package auth

import (
	"errors"
	"fmt"
	"sync"
	"time"

	lkauth "github.com/livekit/protocol/auth"
)

// MaxTokenLen bounds the token Verify will parse. Real tokens are a few hundred bytes; the
// cap keeps an attacker from making us base64- and JSON-decode megabytes per request.
const MaxTokenLen = 8 << 10

// KeyProvider maps API keys to their secrets. It satisfies livekit's auth.KeyProvider, so
// the same keys can be handed to livekit's webhook package.
type KeyProvider map[string]string

var _ lkauth.KeyProvider = KeyProvider(nil)

// GetSecret returns the secret for key, or "" if the key is unknown.
func (k KeyProvider) GetSecret(key string) string { return k[key] }

// NumKeys returns how many API keys there are.
func (k KeyProvider) NumKeys() int { return len(k) }

// Verifier checks tokens against a fixed set of API keys. It is safe for concurrent use.
type Verifier struct {
	keys   KeyProvider
	leeway time.Duration

	// verified remembers tokens whose signature checked out, so a viewer's LL-HLS player,
	// which sends the same token with every part and playlist request (ten a second), costs
	// one HMAC and JSON parse per token rather than per request. Times are checked anew on
	// every use. Bounded: emptied when full.
	mu       sync.Mutex
	verified map[string]verifiedToken
}

type verifiedToken struct {
	claims    Claims
	notBefore time.Time
}

// maxVerified bounds the verified-token cache.
const maxVerified = 8192

// NewVerifier returns a Verifier for keys (API key -> secret) with DefaultConfig. Keys and
// secrets must be non-empty. Short secrets are allowed on purpose so a development
// "secret" works; production strength is the configuration's concern, not this package's.
func NewVerifier(keys map[string]string) (*Verifier, error) {
	return NewVerifierConfig(DefaultConfig(), keys)
}

// NewVerifierConfig is NewVerifier with cfg's token leeway.
func NewVerifierConfig(cfg Config, keys map[string]string) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("auth: no API keys configured")
	}
	// Copy so a caller changing its map later cannot race with Verify.
	own := make(KeyProvider, len(keys))
	for k, s := range keys {
		if k == "" {
			return nil, errors.New("auth: empty API key")
		}
		if s == "" {
			// Name the key, never the secret: this error may reach logs.
			return nil, fmt.Errorf("auth: API key %q has an empty secret", k)
		}
		own[k] = s
	}
	return &Verifier{keys: own, leeway: cfg.TokenLeeway}, nil
}

// Verify checks token's signature, issuer and validity period (with the configured
// clock-skew leeway) and returns its claims. An empty token is ErrMissingToken; every other failure wraps
// ErrInvalidToken.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if token == "" {
		return nil, ErrMissingToken
	}
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, MaxTokenLen)
	}
	v.mu.Lock()
	hit, ok := v.verified[token]
	v.mu.Unlock()
	if ok {
		if err := v.checkTimes(hit.claims.ExpiresAt, hit.notBefore, time.Now()); err != nil {
			return nil, err
		}
		c := hit.claims
		return &c, nil
	}
	parsed, err := lkauth.ParseAPIToken(token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	secret := v.keys.GetSecret(parsed.APIKey())
	if secret == "" {
		return nil, fmt.Errorf("%w: unknown API key %q", ErrInvalidToken, parsed.APIKey())
	}
	reg, grants, err := parsed.Verify(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	c := &Claims{Identity: grants.Identity, Name: grants.Name}
	if reg.ExpiresAt != nil { // livekit requires exp; the check only guards a future change
		c.ExpiresAt = reg.ExpiresAt.Time
	}
	var notBefore time.Time
	if reg.NotBefore != nil {
		notBefore = reg.NotBefore.Time
	}
	if err := v.checkTimes(c.ExpiresAt, notBefore, time.Now()); err != nil {
		return nil, err
	}
	// A token without a video grant (say, a SIP-only one) allows nothing in a room.
	if g := grants.Video; g != nil {
		c.Room = g.Room
		c.RoomJoin = g.RoomJoin
		c.RoomAdmin = g.RoomAdmin
		c.RoomList = g.RoomList
		c.RoomCreate = g.RoomCreate
		c.CanPublish = g.GetCanPublish()
		c.CanSubscribe = g.GetCanSubscribe()
		c.CanPublishData = g.GetCanPublishData()
	}
	v.mu.Lock()
	if len(v.verified) >= maxVerified || v.verified == nil {
		v.verified = make(map[string]verifiedToken, 64)
	}
	v.verified[token] = verifiedToken{claims: *c, notBefore: notBefore}
	v.mu.Unlock()
	return c, nil
}

// checkTimes applies our leeway to exp and nbf. livekit has already checked them with its
// fixed minute of leeway, which is longer than ours may be (Config caps ours at it).
// A zero time is a claim the token does not carry.
func (v *Verifier) checkTimes(exp, notBefore, now time.Time) error {
	if !exp.IsZero() && now.After(exp.Add(v.leeway)) {
		return fmt.Errorf("%w: token is expired (exp %s, leeway %v)", ErrInvalidToken, exp.UTC().Format(time.RFC3339), v.leeway)
	}
	if !notBefore.IsZero() && now.Add(v.leeway).Before(notBefore) {
		return fmt.Errorf("%w: token is not valid yet (nbf %s, leeway %v)", ErrInvalidToken, notBefore.UTC().Format(time.RFC3339), v.leeway)
	}
	return nil
}
