package signaling

import (
	"errors"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

func TestScreenCandidate(t *testing.T) {
	cases := []struct {
		addr   string
		ignore bool
		refuse bool
	}{
		{"127.0.0.1", false, false},
		{"192.168.1.20", false, false},
		{"10.1.2.3", false, false},
		{"169.254.3.4", false, false},
		{"203.0.113.9", false, false},
		{"2001:db8::1", false, false},
		{"fe80::1", false, false},
		{"6d1b4a3e-2a3b-4c5d-8e9f-0a1b2c3d4e5f.local", true, false},
		{"HOST.LOCAL", true, false},
		{"attacker.invalid", false, true},
		{"evil.example.com", false, true},
		{"localhost", false, true},
		{"0.0.0.0", false, true},
		{"::", false, true},
		{"::ffff:0.0.0.0", false, true},
		{"224.0.0.251", false, true},
		{"239.1.2.3", false, true},
		{"ff02::fb", false, true},
		{"255.255.255.255", false, true},
	}
	for _, c := range cases {
		ignore, err := screenCandidate("1 1 udp 2130706431 " + c.addr + " 9 typ host")
		if ignore != c.ignore || (err != nil) != c.refuse || (err != nil && !errors.Is(err, errRefusedCandidate)) {
			t.Errorf("%s: ignore %v, err %v; want ignore %v, refuse %v", c.addr, ignore, err, c.ignore, c.refuse)
		}
	}
}

// TestScreenCandidateLines (review finding 3): the screen reads a line as pion does. A
// zone does not hide an address no peer can have, and a line that a single-space parser
// and a whitespace parser would read differently is malformed.
func TestScreenCandidateLines(t *testing.T) {
	const ok, ignore, refuse, malformed = "ok", "ignore", "refuse", "malformed"
	cases := []struct{ line, want string }{
		{"1 1 udp 2130706431 127.0.0.1 9 typ host generation 0 ufrag x network-id 1", ok},
		{"1 1 udp 2130706431 fe80::1%eth0 9 typ host", ok},
		{"1 1 udp 1686052607 203.0.113.9 9 typ srflx raddr 10.0.0.1 rport 9", ok},
		{"1 1 udp 2130706431 ABC.LOCAL 9 typ host", ignore},
		{"1 1 udp 2130706431 ::%eth0 9 typ host", refuse},
		{"1 1 udp 2130706431 ::ffff:0.0.0.0%1 9 typ host", refuse},
		{"1 1 udp 2130706431 0.0.0.0%x 9 typ host", refuse},
		{"1 1 udp 2130706431 ff02::fb%eth0 9 typ host", refuse},
		{"1 1 udp 2130706431 attacker.invalid 9 typ srflx raddr 0.0.0.0 rport 0", refuse},
		{"1 1 udp 2130706431 1.2.3.4\tattacker.invalid  typ host", malformed},
		{"1 1 udp 2130706431 1.2.3.4  9 typ host", malformed},
		{"1 1 udp 2130706431 1.2.3.4 9 typ host ", malformed},
		{" 1 udp 2130706431 1.2.3.4 9 typ host", malformed},
		{"1 1 udp 2130706431 1.2.3.4 9 typ host\x00", malformed},
		{"1 1 udp 2130706431 1.2.3.4\u00a09 typ host x", malformed},
		{"1 1 udp 2130706431 127.0.0.1 9 typ bogus", malformed},
		{"1 1 udp 2130706431 127.0.0.1 99999 typ host", malformed},
	}
	for _, c := range cases {
		ign, err := screenCandidate(c.line)
		got := ok
		switch {
		case ign:
			got = ignore
		case errors.Is(err, errRefusedCandidate):
			got = refuse
		case errors.Is(err, errMalformedCandidate):
			got = malformed
		case err != nil:
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%q: %s (%v), want %s", c.line, got, err, c.want)
		}
	}
}

// An mDNS candidate never reaches the ICE agent, and is counted; a host name refuses the
// whole fragment before anything is added.
func TestParseFragmentScreensCandidates(t *testing.T) {
	before := screened(t, "ignored_mdns")
	f, err := parseFragment("a=mid:0\r\na=candidate:1 1 udp 2130706431 abc.local 9 typ host\r\na=candidate:2 1 udp 2130706431 127.0.0.1 9 typ host\r\n")
	if err != nil || len(f.candidates) != 1 || !strings.Contains(f.candidates[0].Candidate, "127.0.0.1") || f.ignored != 1 {
		t.Fatalf("parsed %+v, %v; want the loopback candidate only", f, err)
	}
	if got := screened(t, "ignored_mdns") - before; got != 1 {
		t.Errorf("ignored_mdns counted %v, want 1", got)
	}
	_, err = parseFragment("a=mid:0\r\na=candidate:2 1 udp 2130706431 127.0.0.1 9 typ host\r\na=candidate:1 1 udp 2130706431 attacker.invalid 9 typ host\r\n")
	if !errors.Is(err, errBadFragment) || !errors.Is(err, errRefusedCandidate) {
		t.Fatalf("err = %v, want a refused candidate", err)
	}
}

func TestScreenOffer(t *testing.T) {
	offer := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n" +
		"a=candidate:1 1 udp 2130706431 abc.local 5000 typ host\r\n" +
		"a=candidate:2 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n"
	got, err := screenOffer(offer)
	want := strings.Replace(offer, "a=candidate:1 1 udp 2130706431 abc.local 5000 typ host\r\n", "", 1)
	if err != nil || got != want {
		t.Fatalf("screenOffer = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"attacker.invalid", "0.0.0.0"} {
		if _, err := screenOffer(strings.Replace(offer, "127.0.0.1", bad, 1)); !errors.Is(err, errRefusedCandidate) {
			t.Errorf("%s: err = %v, want a refused candidate", bad, err)
		}
	}
}

func screened(t *testing.T, result string) float64 {
	t.Helper()
	var m dto.Metric
	if err := candidatesScreened.WithLabelValues(result).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
