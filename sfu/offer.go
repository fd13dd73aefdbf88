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
// state is created: unparsable (ErrBadOffer), too many m-lines (ErrBadOffer), no
// audio/video flowing the way role needs (ErrNoMedia: a publisher must send, a viewer must
// receive), or no such section with a codec the SFU forwards (ErrUnsupportedCodec, naming
// what was offered and what is accepted). An offer with at least one usable section passes;
// OfferRefusals names the rest.
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
	usable, refused := sortSections(&d, role)
	switch {
	case usable > 0:
		return nil
	case len(refused) > 0:
		// Every section that could carry media offers only codecs the SFU cannot forward:
		// answering would reject them all and leave a session with nothing in it.
		return fmt.Errorf("%w: %s", ErrUnsupportedCodec, describeRefusals(refused))
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
