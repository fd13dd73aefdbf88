package sfu

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// videoFeedback is what every video codec negotiates: NACK (answered from the cache),
// PLI and FIR (forwarded to the publisher, coalesced).
var videoFeedback = []webrtc.RTCPFeedback{
	{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"},
}

// forwardedCodecs are the codecs the SFU accepts from publishers and offers to viewers.
// The SFU does not transcode, so both sides must share one; these are what browsers,
// OBS and ffmpeg send. No RTX: retransmissions reuse the media SSRC, which every browser
// accepts and which keeps one cache entry per packet.
func forwardedCodecs() []webrtc.RTPCodecParameters {
	h264 := func(pt uint8, profile string) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{PayloadType: webrtc.PayloadType(pt), RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=" + profile,
			RTCPFeedback: videoFeedback,
		}}
	}
	return []webrtc.RTPCodecParameters{
		{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1",
		}},
		h264(102, "42e01f"), // constrained baseline: browsers, OBS, ffmpeg baseline
		h264(104, "42001f"), // baseline
		h264(106, "4d001f"), // main
		h264(108, "64001f"), // high
		{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFeedback,
		}},
	}
}

func newMediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range forwardedCodecs() {
		kind := webrtc.RTPCodecTypeVideo
		if strings.HasPrefix(c.MimeType, "audio/") {
			kind = webrtc.RTPCodecTypeAudio
		}
		if err := m.RegisterCodec(c, kind); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// matchCodec finds the viewer's payload type for the publisher's codec: same mime type and,
// for H.264, the same profile (the level may differ: decoders accept lower levels) and
// packetization mode. It returns the index in negotiated, or -1.
func matchCodec(src webrtc.RTPCodecParameters, negotiated []webrtc.RTPCodecParameters) int {
	best := -1
	for i, c := range negotiated {
		if !strings.EqualFold(c.MimeType, src.MimeType) {
			continue
		}
		if !strings.EqualFold(src.MimeType, webrtc.MimeTypeH264) || c.SDPFmtpLine == src.SDPFmtpLine {
			return i
		}
		if best < 0 && h264Compatible(src.SDPFmtpLine, c.SDPFmtpLine) {
			best = i
		}
	}
	return best
}

func h264Compatible(a, b string) bool {
	pa, ma := h264Params(a)
	pb, mb := h264Params(b)
	return ma == mb && pa == pb
}

// h264Params extracts profile_idc+profile-iop (the first four hex digits of
// profile-level-id) and packetization-mode from an fmtp line.
func h264Params(fmtp string) (profile, mode string) {
	mode = "0"
	for _, kv := range strings.Split(fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch strings.ToLower(k) {
		case "profile-level-id":
			if len(v) >= 4 {
				profile = strings.ToLower(v[:4])
			}
		case "packetization-mode":
			mode = v
		}
	}
	return profile, mode
}

// IngestCodec returns the forwarded codec for a track that was not negotiated over WebRTC
// (RTMP ingest): mime is a webrtc.MimeType*, and for H.264 profileLevelID is the stream's
// profile-level-id in hex ("42e01f"); only its profile part must match. It reports false
// when viewers could not be offered the codec.
func IngestCodec(mime, profileLevelID string) (webrtc.RTPCodecParameters, bool) {
	src := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: mime, SDPFmtpLine: "packetization-mode=1;profile-level-id=" + profileLevelID,
	}}
	all := forwardedCodecs()
	if i := matchCodec(src, all); i >= 0 {
		return all[i], true
	}
	return webrtc.RTPCodecParameters{}, false
}
