package sfu

import (
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
)

// MaxMediaSections bounds the m-lines of an offer: a host sends audio, video and perhaps a
// data channel; hundreds of m-lines would only cost us transceivers.
const MaxMediaSections = 16

// CheckOffer rejects an SDP offer that cannot lead to a useful session before any WebRTC
// state is created: unparsable, too many m-lines, or no audio/video flowing the way role
// needs (a publisher must send, a viewer must receive).
func CheckOffer(offer string, role Role) error {
	if !strings.HasPrefix(offer, "v=0") {
		return fmt.Errorf("%w: an SDP offer starts with \"v=0\"", ErrBadOffer)
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return fmt.Errorf("%w: %v", ErrBadOffer, err)
	}
	if len(d.MediaDescriptions) > MaxMediaSections {
		return fmt.Errorf("%w: %d media sections (limit %d)", ErrBadOffer, len(d.MediaDescriptions), MaxMediaSections)
	}
	for _, m := range d.MediaDescriptions {
		if k := m.MediaName.Media; k != "audio" && k != "video" {
			continue
		}
		if m.MediaName.Port.Value == 0 {
			continue // rejected or stopped section
		}
		if directionFits(m, role) {
			return nil
		}
	}
	return ErrNoMedia
}

func directionFits(m *sdp.MediaDescription, role Role) bool {
	dir := "sendrecv"
	for _, a := range m.Attributes {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			dir = a.Key
		}
	}
	if role == RolePublisher {
		return dir == "sendonly" || dir == "sendrecv"
	}
	return dir == "recvonly" || dir == "sendrecv"
}
