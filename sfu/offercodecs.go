package sfu

import (
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// AcceptedCodecs says, for people, what the SFU takes from publishers (forwardedCodecs).
const AcceptedCodecs = "H.264 (packetization-mode=1; constrained baseline, baseline, main or high profile) or VP8 video, Opus audio"

// RefusedMedia is an audio or video section of an offer that carries no codec the SFU
// forwards: the answer rejects it (port 0) and no track comes of it.
type RefusedMedia struct {
	Kind   string   // "audio" or "video"
	MID    string   // the section's a=mid, "" if it has none
	Codecs []string // what it offered, by rtpmap name ("AV1", "H265", "PCMU")
}

func (r RefusedMedia) String() string {
	return r.Kind + " (" + strings.Join(r.Codecs, ", ") + ")"
}

// OfferRefusals lists the sections of offer, flowing the way role needs, that the SFU
// will refuse for their codecs. An unparsable offer has none (CheckOffer reports it).
func OfferRefusals(offer string, role Role) []RefusedMedia {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return nil
	}
	_, refused := sortSections(&d, role)
	return refused
}

// sortSections counts the live audio/video sections flowing the way role needs that carry
// a codec the SFU forwards, and describes the ones that do not.
func sortSections(d *sdp.SessionDescription, role Role) (usable int, refused []RefusedMedia) {
	for _, m := range d.MediaDescriptions {
		kind := m.MediaName.Media
		if kind != "audio" && kind != "video" || m.MediaName.Port.Value == 0 || !directionFits(m, role) {
			continue
		}
		names, ok := sectionCodecs(m)
		if ok {
			usable++
			continue
		}
		mid, _ := m.Attribute("mid")
		refused = append(refused, RefusedMedia{Kind: kind, MID: mid, Codecs: names})
	}
	return usable, refused
}

// sectionCodecs names the media codecs of an m-line and reports whether one of them is
// forwarded. Helpers that carry no media of their own (rtx, red, fec, comfort noise, DTMF)
// are left out of the names: they cannot make a section usable and only add noise.
func sectionCodecs(m *sdp.MediaDescription) (names []string, usable bool) {
	all := forwardedCodecs()
	for _, pt := range m.MediaName.Formats {
		name, fmtp := codecOf(m, pt)
		if name == "" || helperCodec(name) {
			continue
		}
		src := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: m.MediaName.Media + "/" + name, SDPFmtpLine: fmtp,
		}}
		if matchCodec(src, all) >= 0 {
			usable = true
		}
		if strings.EqualFold(name, "H264") {
			// An H.264 the SFU refuses differs in profile or packetization mode: say which.
			profile, mode := h264Params(fmtp)
			name += " profile " + profile + " packetization-mode " + mode
		}
		if !containsFold(names, name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		names = []string{"no media codec"}
	}
	return names, usable
}

// codecOf returns the encoding name and fmtp parameters of payload type pt in m.
func codecOf(m *sdp.MediaDescription, pt string) (name, fmtp string) {
	for _, a := range m.Attributes {
		v, ok := strings.CutPrefix(a.Value, pt+" ")
		if !ok {
			continue
		}
		switch a.Key {
		case "rtpmap":
			name, _, _ = strings.Cut(v, "/")
		case "fmtp":
			fmtp = v
		}
	}
	if name == "" {
		name = staticPayloadTypes[pt]
	}
	return name, fmtp
}

// staticPayloadTypes are RFC 3551's static payload types an offer may use without rtpmap.
var staticPayloadTypes = map[string]string{
	"0": "PCMU", "3": "GSM", "4": "G723", "8": "PCMA", "9": "G722", "18": "G729",
	"26": "JPEG", "31": "H261", "32": "MPV", "34": "H263",
}

func helperCodec(name string) bool {
	switch strings.ToLower(name) {
	case "rtx", "red", "ulpfec", "flexfec", "flexfec-03", "cn", "telephone-event":
		return true
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// describeRefusals is the message of ErrUnsupportedCodec for an offer with nothing usable.
func describeRefusals(refused []RefusedMedia) string {
	parts := make([]string, len(refused))
	for i, r := range refused {
		parts[i] = r.String()
	}
	return "offered " + strings.Join(parts, ", ") + "; Glint accepts " + AcceptedCodecs
}
