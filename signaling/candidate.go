package signaling

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

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

// screenCandidate decides on a candidate attribute value (what follows "candidate:"),
// whose shape checkCandidate has accepted. It returns ignore for an mDNS host name
// (browsers hide their addresses behind one; the server never resolves them and learns
// the address from the browser's connectivity checks), and an error for any other name
// or an address no peer can have. pion itself would keep a name ending in .invalid as an
// unresolved candidate and query .local names over multicast when mDNS is on: deciding
// here keeps that behaviour out of the server whatever pion's settings.
// Loopback, private and link-local addresses stay: tests and LANs use them.
func screenCandidate(value string) (ignore bool, err error) {
	host := strings.Fields(value)[4]
	addr, perr := netip.ParseAddr(host)
	switch {
	case perr != nil && strings.HasSuffix(strings.ToLower(host), ".local"):
		candidatesScreened.WithLabelValues("ignored_mdns").Inc()
		return true, nil
	case perr != nil:
		candidatesScreened.WithLabelValues("refused_name").Inc()
		return false, fmt.Errorf("%w: address %q is not an IP address (the server resolves no names; mDNS .local names are ignored)", errRefusedCandidate, truncate(host))
	}
	addr = addr.Unmap()
	if addr.IsUnspecified() || addr.IsMulticast() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		candidatesScreened.WithLabelValues("refused_address").Inc()
		return false, fmt.Errorf("%w: address %s can never be a peer (unspecified, multicast or broadcast)", errRefusedCandidate, addr)
	}
	return false, nil
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
		if err := checkCandidate(value); err != nil {
			return "", fmt.Errorf("offer: %w", err)
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
