package signaling

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// maxTrickleCandidates bounds one PATCH: a client gathers a handful per interface.
const maxTrickleCandidates = 64

var errBadFragment = errors.New("bad trickle-ice-sdpfrag")

// sdpFragment is what a WHIP/WHEP PATCH body (RFC 8840 application/trickle-ice-sdpfrag)
// tells the server.
type sdpFragment struct {
	ufrag, pwd string
	candidates []webrtc.ICECandidateInit
	ignored    int // mDNS candidates left out (screenCandidate)
}

// parseFragment reads the attributes of an SDP fragment. Candidates are attributed to the
// m-section (mid) they follow; lines the server does not need are ignored.
func parseFragment(body string) (sdpFragment, error) {
	var f sdpFragment
	var mid *string
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return f, fmt.Errorf("%w: line %q is not an SDP line", errBadFragment, truncate(line))
		}
		if line[0] != 'a' {
			continue // m=, c= and the like carry nothing we use
		}
		key, value, _ := strings.Cut(line[2:], ":")
		switch key {
		case "mid":
			m := value
			mid = &m
		case "ice-ufrag":
			f.ufrag = value
		case "ice-pwd":
			f.pwd = value
		case "candidate":
			if len(f.candidates)+f.ignored == maxTrickleCandidates {
				return f, fmt.Errorf("%w: more than %d candidates", errBadFragment, maxTrickleCandidates)
			}
			ignore, err := screenCandidate(value)
			if err != nil {
				return f, fmt.Errorf("%w: %w", errBadFragment, err)
			}
			if ignore {
				f.ignored++
				continue
			}
			c := webrtc.ICECandidateInit{Candidate: "candidate:" + value, SDPMid: mid}
			if f.ufrag != "" {
				u := f.ufrag
				c.UsernameFragment = &u
			}
			f.candidates = append(f.candidates, c)
		}
	}
	return f, nil
}

// offerUfrag returns the ICE username fragment of an offer, to recognise an ICE restart.
func offerUfrag(offer string) string {
	var d sdp.SessionDescription
	if d.UnmarshalString(offer) != nil {
		return ""
	}
	if v, ok := d.Attribute("ice-ufrag"); ok {
		return v
	}
	for _, m := range d.MediaDescriptions {
		if v, ok := m.Attribute("ice-ufrag"); ok {
			return v
		}
	}
	return ""
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
