package signaling

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/pion/ice/v4"
)

func TestParseFragment(t *testing.T) {
	frag := "a=ice-options:trickle ice2\r\na=group:BUNDLE 0 1\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n" +
		"a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n" +
		"a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n" +
		"a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0\r\na=end-of-candidates\r\n"
	f, err := parseFragment(frag)
	if err != nil {
		t.Fatal(err)
	}
	if f.ufrag != "EsAw" || f.pwd != "P2uYro0UCOQ4zxjKXaWCBui1" || len(f.candidates) != 2 {
		t.Fatalf("parsed %+v", f)
	}
	c := f.candidates[0]
	if !strings.HasPrefix(c.Candidate, "candidate:1387637174 ") || c.SDPMid == nil || *c.SDPMid != "0" || *c.UsernameFragment != "EsAw" {
		t.Fatalf("candidate %+v", c)
	}
}

func TestParseFragmentRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not sdp":          "hello world",
		"short candidate":  "a=candidate:1 1 udp 1 1.2.3.4\r\n",
		"no typ":           "a=candidate:1 1 udp 1 1.2.3.4 5 host x\r\n",
		"too many":         strings.Repeat("a=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n", maxTrickleCandidates+1),
		"line without '='": "a\r\n",
	} {
		if _, err := parseFragment(body); !errors.Is(err, errBadFragment) {
			t.Errorf("%s: err = %v, want errBadFragment", name, err)
		}
	}
}

// FuzzParseFragment: any body parses or fails with errBadFragment, never panics, and
// never yields more candidates than the limit.
func FuzzParseFragment(f *testing.F) {
	f.Add("a=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 9 typ host\r\n")
	f.Add("a=ice-ufrag:x\na=ice-pwd:y\n")
	f.Add("m=audio 9 RTP/AVP 0\r\n")
	f.Add("a=mid:0\r\na=candidate:1 1 udp 2130706431 ::%eth0 9 typ host\r\n")
	f.Add("a=mid:0\r\na=candidate:1 1 udp 2130706431 1.2.3.4\tattacker.invalid  typ host\r\n")
	f.Add("a=mid:0\r\na=candidate:1 1 udp 2130706431 fe80::1%eth0 9 typ host\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		frag, err := parseFragment(body)
		if err != nil && !errors.Is(err, errBadFragment) {
			t.Fatalf("unexpected error %v", err)
		}
		if len(frag.candidates) > maxTrickleCandidates {
			t.Fatalf("%d candidates", len(frag.candidates))
		}
		// What reaches the ICE agent is an IP address pion reads as the screen did.
		for _, c := range frag.candidates {
			ic, err := ice.UnmarshalCandidate(c.Candidate)
			if err != nil {
				t.Fatalf("%q passed the screen but pion refuses it: %v", c.Candidate, err)
			}
			if a, err := netip.ParseAddr(ic.Address()); err != nil || a.WithZone("").Unmap().IsUnspecified() {
				t.Fatalf("%q passed the screen with address %q", c.Candidate, ic.Address())
			}
		}
	})
}
