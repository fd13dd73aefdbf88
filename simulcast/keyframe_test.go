package simulcast

import (
	"bytes"
	"testing"

	"github.com/pion/rtp/codecs"
)

// Real NAL units from a Chrome H.264 constrained-baseline 640x480 stream (headers and the
// first bytes of the slice data; the tail does not matter to the gate).
var (
	h264SPS    = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40}
	h264PPS    = []byte{0x68, 0xce, 0x3c, 0x80}
	h264IDR    = []byte{0x65, 0x88, 0x84, 0x00, 0x33, 0xff, 0xfe, 0xf6, 0xf0, 0xfe, 0x05, 0x36, 0x56}
	h264NonIDR = []byte{0x41, 0x9a, 0x24, 0x6c, 0x42, 0xbf, 0xfe, 0x38, 0x40, 0x00, 0x00}
	h264SEI    = []byte{0x06, 0x05, 0x10, 0xb6, 0xeb, 0x34, 0x40}
)

// stapA builds an RTP STAP-A payload (RFC 6184 §5.7.1): header 0x78 (NRI 3, type 24), then
// each NAL unit prefixed by its 16-bit size.
func stapA(nalus ...[]byte) []byte {
	p := []byte{0x78}
	for _, n := range nalus {
		p = append(p, byte(len(n)>>8), byte(len(n)))
		p = append(p, n...)
	}
	return p
}

// VP8 frames (RFC 6386 §9.1): a 3-byte frame tag whose lowest bit is the inverse key frame
// flag P; a key frame continues with the start code 9d 01 2a and its dimensions.
var (
	vp8Key   = []byte{0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0x00, 0x47, 0x08}
	vp8Inter = []byte{0x31, 0x0e, 0x00, 0x11, 0x0c, 0xea, 0x00, 0x0e, 0x47, 0x08}
)

// vp8 builds a payload descriptor (RFC 7741 §4.2) in front of frame bytes.
func vp8(desc []byte, frame []byte) []byte {
	return append(append([]byte{}, desc...), frame...)
}

func TestIsKeyframeStartH264(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"single IDR NAL", h264IDR, true},
		{"single IDR NAL, NRI 0", append([]byte{0x05}, h264IDR[1:]...), true},
		{"single SPS NAL", h264SPS, true},
		{"single PPS NAL", h264PPS, false},
		{"single non-IDR NAL", h264NonIDR, false},
		{"single SEI NAL", h264SEI, false},
		{"IDR header byte only", []byte{0x65}, true},
		{"empty", nil, false},
		{"empty non-nil", []byte{}, false},

		{"STAP-A SPS+PPS", stapA(h264SPS, h264PPS), true},
		{"STAP-A SEI+SPS+PPS", stapA(h264SEI, h264SPS, h264PPS), true},
		{"STAP-A SPS+PPS+IDR", stapA(h264SPS, h264PPS, h264IDR), true},
		{"STAP-A PPS+IDR", stapA(h264PPS, h264IDR), true},
		{"STAP-A non-IDR only", stapA(h264NonIDR), false},
		{"STAP-A non-IDR+non-IDR", stapA(h264NonIDR, h264NonIDR), false},
		{"STAP-A PPS+SEI", stapA(h264PPS, h264SEI), false},
		{"STAP-A header only", []byte{0x78}, false},
		{"STAP-A header and half a size", []byte{0x78, 0x00}, false},
		{"STAP-A size but no NAL", []byte{0x78, 0x00, 0x01}, false},
		{"STAP-A zero size", []byte{0x78, 0x00, 0x00, 0x67, 0x42}, false},
		{"STAP-A size overruns buffer", []byte{0x78, 0x00, 0x10, 0x67, 0x42, 0xc0}, false},
		{"STAP-A size overruns by one", append([]byte{0x78, 0x00, byte(len(h264SPS) + 1)}, h264SPS...), false},
		{"STAP-A second size overruns", append(stapA(h264PPS), 0x00, 0x40, 0x67, 0x42), false},
		{"STAP-A SPS hidden behind overrun", append([]byte{0x78, 0xff, 0xff}, h264SPS...), false},
		{"STAP-A trailing size byte", append(stapA(h264NonIDR), 0x00), false},

		// FU-A (RFC 6184 §5.8): indicator F|NRI|28, header S|E|R|type.
		{"FU-A start of IDR", []byte{0x7c, 0x85, 0x88, 0x84, 0x00}, true},
		{"FU-A start of IDR, NRI 2", []byte{0x5c, 0x85, 0x88}, true},
		{"FU-A start of IDR, header only", []byte{0x7c, 0x85}, true},
		{"FU-A middle of IDR", []byte{0x7c, 0x05, 0x12, 0x34}, false},
		{"FU-A end of IDR", []byte{0x7c, 0x45, 0x12, 0x34}, false},
		{"FU-A start of non-IDR", []byte{0x7c, 0x81, 0x9a, 0x24}, false},
		{"FU-A indicator only", []byte{0x7c}, false},
		{"FU-B start of IDR", []byte{0x7d, 0x85, 0x00, 0x01, 0x88}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsKeyframeStart(CodecH264, tt.payload); got != tt.want {
				t.Fatalf("IsKeyframeStart(H264, % x) = %v, want %v", tt.payload, got, tt.want)
			}
		})
	}
}

// TestIsKeyframeStartH264Payloader checks the gate against what pion's packetizer actually
// puts on the wire for an Annex-B access unit: the first packet of an IDR access unit starts
// it, every other packet does not.
func TestIsKeyframeStartH264Payloader(t *testing.T) {
	annexB := func(nalus ...[]byte) []byte {
		var b []byte
		for _, n := range nalus {
			b = append(b, 0x00, 0x00, 0x00, 0x01)
			b = append(b, n...)
		}
		return b
	}
	bigIDR := append(append([]byte{}, h264IDR...), bytes.Repeat([]byte{0xab}, 3000)...)
	bigP := append(append([]byte{}, h264NonIDR...), bytes.Repeat([]byte{0xcd}, 3000)...)

	tests := []struct {
		name    string
		stapA   bool
		au      []byte
		wantKey []bool // per packet
	}{
		// SPS and PPS are held back and sent as one STAP-A before the IDR.
		{"STAP-A then single IDR", true, annexB(h264SPS, h264PPS, h264IDR), []bool{true, true}},
		{"STAP-A then FU-A IDR", true, annexB(h264SPS, h264PPS, bigIDR), []bool{true, true, false, false}},
		{"separate SPS, PPS, IDR", false, annexB(h264SPS, h264PPS, h264IDR), []bool{true, false, true}},
		{"single non-IDR", true, annexB(h264NonIDR), []bool{false}},
		{"FU-A non-IDR", true, annexB(bigP), []bool{false, false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &codecs.H264Payloader{DisableStapA: !tt.stapA}
			pkts := p.Payload(1200, tt.au)
			if len(pkts) != len(tt.wantKey) {
				t.Fatalf("payloader made %d packets, want %d", len(pkts), len(tt.wantKey))
			}
			for i, pkt := range pkts {
				if got := IsKeyframeStart(CodecH264, pkt); got != tt.wantKey[i] {
					t.Errorf("packet %d (% x...) = %v, want %v", i, pkt[:min(len(pkt), 4)], got, tt.wantKey[i])
				}
			}
		})
	}
}

func TestIsKeyframeStartVP8(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    bool
	}{
		// Minimal descriptor: X=0, S=1, PID=0.
		{"keyframe, no extensions", vp8([]byte{0x10}, vp8Key), true},
		{"keyframe, N bit set", vp8([]byte{0x30}, vp8Key), true},
		{"interframe, no extensions", vp8([]byte{0x10}, vp8Inter), false},
		{"keyframe, S=0", vp8([]byte{0x00}, vp8Key), false},
		{"keyframe, PID=1", vp8([]byte{0x11}, vp8Key), false},
		{"keyframe, PID=7", vp8([]byte{0x17}, vp8Key), false},
		{"keyframe, S=0 PID=1", vp8([]byte{0x01}, vp8Key), false},
		{"frame tag byte only, key", []byte{0x10, 0x50}, true},
		{"frame tag byte only, inter", []byte{0x10, 0x51}, false},

		// X=1 with an empty extension byte.
		{"X, no I/L/T/K", vp8([]byte{0x90, 0x00}, vp8Key), true},
		// I with a 7-bit picture ID (M=0).
		{"7-bit picture ID, key", vp8([]byte{0x90, 0x80, 0x2a}, vp8Key), true},
		{"7-bit picture ID, inter", vp8([]byte{0x90, 0x80, 0x2a}, vp8Inter), false},
		// I with a 15-bit picture ID (M=1): the low bit of the second byte must not be read as P.
		{"15-bit picture ID, key", vp8([]byte{0x90, 0x80, 0x81, 0x23}, vp8Key), true},
		{"15-bit picture ID, inter", vp8([]byte{0x90, 0x80, 0x81, 0x23}, vp8Inter), false},
		{"15-bit picture ID with odd low byte, key", vp8([]byte{0x90, 0x80, 0xff, 0xff}, vp8Key), true},
		{"15-bit picture ID with even low byte, inter", vp8([]byte{0x90, 0x80, 0x80, 0x00}, vp8Inter), false},
		// L: TL0PICIDX.
		{"I+L, key", vp8([]byte{0x90, 0xc0, 0x81, 0x23, 0x05}, vp8Key), true},
		{"I+L, inter", vp8([]byte{0x90, 0xc0, 0x81, 0x23, 0x04}, vp8Inter), false},
		{"L only, key", vp8([]byte{0x90, 0x40, 0x01}, vp8Key), true},
		// T and K share one byte: TID|Y|KEYIDX.
		{"T only, key", vp8([]byte{0x90, 0x20, 0x41}, vp8Key), true},
		{"K only, key", vp8([]byte{0x90, 0x10, 0x1f}, vp8Key), true},
		{"T+K, inter", vp8([]byte{0x90, 0x30, 0xe0}, vp8Inter), false},
		{"I+L+T+K 15-bit, key", vp8([]byte{0x90, 0xf0, 0x80, 0x01, 0x03, 0x20}, vp8Key), true},
		{"I+L+T+K 15-bit, inter", vp8([]byte{0x90, 0xf0, 0x80, 0x01, 0x03, 0x20}, vp8Inter), false},
		{"I+L+T+K 7-bit, key", vp8([]byte{0x90, 0xf0, 0x7f, 0x03, 0x21}, vp8Key), true},
		{"I+L+T+K, S=0", vp8([]byte{0x80, 0xf0, 0x80, 0x01, 0x03, 0x20}, vp8Key), false},
		{"I+L+T+K, PID=2", vp8([]byte{0x92, 0xf0, 0x80, 0x01, 0x03, 0x20}, vp8Key), false},

		// Truncated descriptors: no frame byte left to read P from.
		{"empty", nil, false},
		{"descriptor byte only", []byte{0x10}, false},
		{"X, no extension byte", []byte{0x90}, false},
		{"X, extension byte only", []byte{0x90, 0x00}, false},
		{"I, no picture ID", []byte{0x90, 0x80}, false},
		{"I 7-bit, nothing after", []byte{0x90, 0x80, 0x2a}, false},
		{"I 15-bit, half picture ID", []byte{0x90, 0x80, 0x81}, false},
		{"I 15-bit, nothing after", []byte{0x90, 0x80, 0x81, 0x23}, false},
		{"I+L, no TL0PICIDX", []byte{0x90, 0xc0, 0x2a}, false},
		{"I+L+T, no TID byte", []byte{0x90, 0xe0, 0x2a, 0x05}, false},
		{"I+L+T+K, nothing after", []byte{0x90, 0xf0, 0x80, 0x01, 0x03, 0x20}, false},
		{"T, only the TID byte", []byte{0x90, 0x20, 0x40}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsKeyframeStart(CodecVP8, tt.payload); got != tt.want {
				t.Fatalf("IsKeyframeStart(VP8, % x) = %v, want %v", tt.payload, got, tt.want)
			}
		})
	}
}

// TestIsKeyframeStartVP8Payloader runs frames through pion's packetizer with and without the
// 15-bit picture ID libwebrtc uses: only the first packet of a key frame starts one.
func TestIsKeyframeStartVP8Payloader(t *testing.T) {
	big := func(frame []byte) []byte {
		return append(append([]byte{}, frame...), bytes.Repeat([]byte{0x5a}, 2500)...)
	}
	for _, pictureID := range []bool{false, true} {
		for _, tt := range []struct {
			name  string
			frame []byte
			key   bool
		}{
			{"small key", vp8Key, true},
			{"small inter", vp8Inter, false},
			{"large key", big(vp8Key), true},
			{"large inter", big(vp8Inter), false},
		} {
			name := tt.name
			if pictureID {
				name += " with picture ID"
			}
			t.Run(name, func(t *testing.T) {
				p := &codecs.VP8Payloader{EnablePictureID: pictureID}
				// Advance the picture ID past 127 so the 15-bit form carries a high byte.
				for range 200 {
					p.Payload(1200, vp8Inter)
				}
				pkts := p.Payload(1200, tt.frame)
				if len(pkts) == 0 {
					t.Fatal("payloader made no packets")
				}
				for i, pkt := range pkts {
					want := tt.key && i == 0
					if got := IsKeyframeStart(CodecVP8, pkt); got != want {
						t.Errorf("packet %d of %d (% x...) = %v, want %v", i, len(pkts), pkt[:min(len(pkt), 6)], got, want)
					}
				}
			})
		}
	}
}

func TestIsKeyframeStartAudioAndUnknown(t *testing.T) {
	payloads := [][]byte{nil, {}, {0xfc, 0xff, 0xfe}, {0x78, 0x01, 0x02}}
	for _, c := range []Codec{CodecOpus, CodecUnknown, Codec(200)} {
		for _, p := range payloads {
			if !IsKeyframeStart(c, p) {
				t.Errorf("IsKeyframeStart(%d, % x) = false, want true", c, p)
			}
		}
	}
}

func TestCodecFromMime(t *testing.T) {
	tests := []struct {
		mime  string
		want  Codec
		video bool
	}{
		{"video/H264", CodecH264, true},
		{"video/h264", CodecH264, true},
		{"VIDEO/H264", CodecH264, true},
		{"video/VP8", CodecVP8, true},
		{"video/vp8", CodecVP8, true},
		{"audio/opus", CodecOpus, false},
		{"audio/OPUS", CodecOpus, false},
		{"video/VP9", CodecUnknown, false},
		{"video/AV1", CodecUnknown, false},
		{"audio/PCMU", CodecUnknown, false},
		{"H264", CodecUnknown, false},
		{"", CodecUnknown, false},
		{"video/H264 ", CodecUnknown, false},
	}
	for _, tt := range tests {
		got := CodecFromMime(tt.mime)
		if got != tt.want {
			t.Errorf("CodecFromMime(%q) = %d, want %d", tt.mime, got, tt.want)
		}
		if got.IsVideo() != tt.video {
			t.Errorf("CodecFromMime(%q).IsVideo() = %v, want %v", tt.mime, got.IsVideo(), tt.video)
		}
	}
}
