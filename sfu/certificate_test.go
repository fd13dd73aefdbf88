package sfu

import (
	"testing"
	"time"
)

// TestDTLSCertificateShared: every session presents the node's one certificate (pion would
// generate a key and certificate per PeerConnection), and it is renewed before it expires,
// since pion refuses an expired one.
func TestDTLSCertificateShared(t *testing.T) {
	var c dtlsCert
	now := time.Now()
	first, err := c.get(now)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.get(now.Add(time.Hour))
	if !again.Equals(first) {
		t.Fatal("the certificate was not reused")
	}
	renewed, err := c.get(first.Expires().Add(-certRenewBefore / 2))
	if err != nil {
		t.Fatal(err)
	}
	if renewed.Equals(first) {
		t.Fatal("a certificate about to expire was not renewed")
	}
}
