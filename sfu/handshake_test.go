package sfu_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/glintlive/glint/sfu/sfutest"
)

// TestSessionsShareCertificate: two sessions' answers carry the same DTLS fingerprint: the
// node signs one certificate, not one per session (the cost a burst of sessions paid).
func TestSessionsShareCertificate(t *testing.T) {
	s := newTestSFU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var prints []string
	for range 2 {
		sig := subscriber(t, s, "certs")
		v, err := sfutest.NewViewer(ctx, func(ctx context.Context, offer string) (string, error) {
			answer, err := sig(ctx, offer)
			for _, l := range strings.Split(answer, "\r\n") {
				if strings.HasPrefix(l, "a=fingerprint:") {
					prints = append(prints, l)
				}
			}
			return answer, err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
	}
	if len(prints) != 2 || prints[0] != prints[1] {
		t.Fatalf("fingerprints %q: want one shared by both sessions", prints)
	}
}
