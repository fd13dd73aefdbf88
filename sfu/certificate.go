package sfu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// certRenewBefore is how long before it expires the shared DTLS certificate is replaced:
// pion refuses to create a PeerConnection with an expired one, and generated ones last a
// month.
const certRenewBefore = 24 * time.Hour

// dtlsCert is the one DTLS certificate every session of the node presents, as LiveKit
// does. Without it pion generates an ECDSA key and signs a certificate per PeerConnection,
// a cost every session of a burst pays before its handshake can even start. Sharing it
// reveals nothing: the fingerprint is in every answer and the key never leaves the node.
type dtlsCert struct {
	mu      sync.Mutex
	cert    webrtc.Certificate
	expires time.Time
}

// get returns the certificate, renewing it when it is close to expiring.
func (c *dtlsCert) get(now time.Time) (webrtc.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.expires.IsZero() && now.Before(c.expires.Add(-certRenewBefore)) {
		return c.cert, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return webrtc.Certificate{}, fmt.Errorf("sfu: dtls key: %w", err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return webrtc.Certificate{}, fmt.Errorf("sfu: dtls certificate: %w", err)
	}
	c.cert, c.expires = *cert, cert.Expires()
	return c.cert, nil
}
