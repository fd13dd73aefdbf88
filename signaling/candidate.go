package signaling

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// errRefusedCandidate: a remote ICE candidate names something the server must never send
// to: a host name (the server would have to resolve it) or an address that is never a
// peer. Refused, as a 400, whether trickled or in an offer.
var errRefusedCandidate = errors.New("refused ICE candidate")

// candidatesScreened counts remote candidates that did not reach the ICE agent.
var candidatesScreened = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: "glint", Subsystem: "signaling", Name: "candidates_screened_total",
	Help: "Remote ICE candidates kept from the ICE agent, by result: ignored_mdns (a browser's .local name), refused_name (another host name), refused_address (unspecified, multicast or broadcast).",
}, []string{"result"})

// errMalformedCandidate: a remote ICE candidate without the RFC 8839 shape, or one pion
// cannot parse. A 400 for the client, whether trickled or in an offer.
var errMalformedCandidate = errors.New("malformed ICE candidate")

// screenCandidate decides on a candidate attribute value (what follows "candidate:").
// It returns ignore for an mDNS host name (browsers hide their addresses behind one; the
// server never resolves them and learns the address from the browser's connectivity
// checks), and an error for a malformed candidate, any other name, or an address no peer
// can have. pion itself would keep a name ending in .invalid as an unresolved candidate
// and query .local names over multicast when mDNS is on: deciding here keeps that
// behaviour out of the server whatever pion's settings.
// The address screened is the one pion's own parser reads, so the screen and the ICE
// agent cannot disagree on it (pion splits on single spaces and drops an IPv6 zone).
// Loopback, private and link-local addresses stay: tests and LANs use them.
func screenCandidate(value string) (ignore bool, err error) {
	fields, err := candidateFields(value)
	if err != nil {
		return false, err
	}
	// Dropped before pion sees it: pion only knows a lower-case .local.
	if strings.HasSuffix(strings.ToLower(fields[4]), ".local") {
		candidatesScreened.WithLabelValues("ignored_mdns").Inc()
		return true, nil
	}
	// pion refuses most names itself; the field stands in for its address then, so a
	// name is refused as one.
	c, cerr := ice.UnmarshalCandidate(value)
	host := fields[4]
	if cerr == nil {
		host = c.Address()
	}
	addr, perr := netip.ParseAddr(host)
	switch {
	case perr != nil:
		candidatesScreened.WithLabelValues("refused_name").Inc()
		return false, fmt.Errorf("%w: address %q is not an IP address (the server resolves no names; mDNS .local names are ignored)", errRefusedCandidate, truncate(host))
	case cerr != nil:
		return false, fmt.Errorf("%w %q: %v", errMalformedCandidate, truncate(value), cerr)
	}
	// The zone names an interface of the sender, never of the server; the checks below
	// compare addresses without it (netip equality and IsUnspecified include it).
	addr = addr.WithZone("").Unmap()
	if addr.IsUnspecified() || addr.IsMulticast() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		candidatesScreened.WithLabelValues("refused_address").Inc()
		return false, fmt.Errorf("%w: address %s can never be a peer (unspecified, multicast or broadcast)", errRefusedCandidate, addr)
	}
	return false, nil
}

// candidateFields splits a candidate value into its fields, refusing what a parser that
// splits on single spaces and one that splits on any whitespace would read differently:
// a byte outside printable ASCII, or an empty field. It checks the RFC 8839 shape
// (foundation, component, transport, priority, address, port, "typ", type).
func candidateFields(value string) ([]string, error) {
	for i := 0; i < len(value); i++ {
		if value[i] < ' ' || value[i] > '~' {
			return nil, fmt.Errorf("%w %q: byte %#x is not printable ASCII", errMalformedCandidate, truncate(value), value[i])
		}
	}
	fields := strings.Split(value, " ")
	if slices.Contains(fields, "") {
		return nil, fmt.Errorf("%w %q: empty field (fields are separated by one space)", errMalformedCandidate, truncate(value))
	}
	if len(fields) < 8 || fields[6] != "typ" {
		return nil, fmt.Errorf("%w %q", errMalformedCandidate, truncate(value))
	}
	return fields, nil
}

// screenOffer applies screenCandidate to the candidates of an offer: pion adds them to
// the ICE agent as it applies the offer, as it does trickled ones. Ignored candidates are
// removed from the offer; a refused one refuses the offer.
func screenOffer(offer string) (string, error) {
	if !strings.Contains(offer, "a=candidate:") {
		return offer, nil
	}
	lines := strings.SplitAfter(offer, "\n")
	kept := lines[:0]
	for _, line := range lines {
		value, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "a=candidate:")
		if !ok {
			kept = append(kept, line)
			continue
		}
		ignore, err := screenCandidate(value)
		if err != nil {
			return "", fmt.Errorf("offer: %w", err)
		}
		if !ignore {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, ""), nil
}
