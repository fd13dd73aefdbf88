package rtmp

import (
	"encoding/binary"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// FuzzParseTarget: whatever URL a client makes gortmplib build, parsing it never panics
// and a key it returns is usable as a token.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"rtmp://h/live/abc.def.ghi", "rtmp://h/live", "rtmp://h/live/", "rtmp://h/live/a/b",
		"rtmp://h/live?token=x", "rtmp://h//x", "rtmp://h/live/%2F", "rtmp://h/" + strings.Repeat("a", 9000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		app, key, err := parseTarget(u)
		if err != nil {
			return
		}
		if app == "" || key == "" || strings.Contains(key, "/") || len(key) > 8<<10 {
			t.Fatalf("parseTarget(%q) = %q, %q", s, app, key)
		}
	})
}

// FuzzMetadata: onMetaData is untrusted AMF0.
func FuzzMetadata(f *testing.F) {
	seed, _ := amf0.Data{"@setDataFrame", "onMetaData", amf0.ECMAArray{
		{Key: "videocodecid", Value: float64(7)}, {Key: "audiocodecid", Value: "mp4a"}, {Key: "framerate", Value: float64(30)},
	}}.Marshal()
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := amf0.Unmarshal(b)
		if err != nil {
			return
		}
		if m, ok := parseMetadata(d); ok && (m.fps < 0 || m.fps > 240) {
			t.Fatalf("fps %v", m.fps)
		}
	})
}

// FuzzProbe feeds the prober a stream of events made from the fuzzer's bytes: SPSs it
// must parse, timestamps that jump about, tracks in any order. It must never panic, never
// buffer more than its bound, and when it is done it has a track.
func FuzzProbe(f *testing.F) {
	f.Add(append([]byte{0, 1, 25}, spsBaseline...))
	f.Add(append(append([]byte{1, 2}, spsMainNoVUI...), 3, 0, 0, 0, 9, 2, 0, 1, 0, 5))
	f.Add([]byte{2, 0, 0, 3, 0, 0, 0, 0, 3, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p prober
		for n := 0; len(b) > 0 && n < 2*maxProbeEvents; n++ {
			op := b[0]
			b = b[1:]
			var ev event
			switch op % 5 {
			case 0: // video configuration: a length, then the SPS
				if len(b) < 1 {
					return
				}
				l := min(int(b[0]), len(b)-1)
				ev = event{kind: evVideoConfig, sps: b[1 : 1+l], pps: ppsX264}
				b = b[1+l:]
			case 1:
				ev = event{kind: evAudioConfig, asc: aacLC48kMono}
			case 2, 3: // a frame: dts and pts offsets in ms
				if len(b) < 4 {
					return
				}
				dts := time.Duration(binary.BigEndian.Uint16(b)) * time.Millisecond
				pts := dts + time.Duration(binary.BigEndian.Uint16(b[2:]))*time.Millisecond
				b = b[4:]
				if op%5 == 2 {
					ev = event{kind: evVideo, dts: dts, pts: pts, nalus: [][]byte{{0x65}}}
				} else {
					ev = event{kind: evAudio, dts: dts, pts: dts, aac: []byte{1}}
				}
			case 4:
				ev = event{kind: evMetadata, meta: metadata{video: op&8 != 0, audio: op&16 != 0}}
			}
			done, err := p.add(ev)
			if len(p.buffered) > maxProbeEvents {
				t.Fatalf("%d events buffered", len(p.buffered))
			}
			if err != nil {
				return
			}
			if done {
				if !p.src.HasVideo && !p.src.HasAudio {
					t.Fatal("done without a track")
				}
				if p.src.HasVideo && (p.src.Width < 16 || p.src.Height < 16 || len(p.src.ProfileLevelID) != 6) {
					t.Fatalf("video %+v", p.src)
				}
				return
			}
		}
	})
}

// FuzzWithParameterSets: any access unit gets the parameter sets in front of its slices,
// once, without losing a NAL unit.
func FuzzWithParameterSets(f *testing.F) {
	f.Add([]byte{0x09, 0xf0, 0, 0x65, 0x88})
	f.Add([]byte{0x67, 1, 0, 0x68, 2, 0, 0x65})
	f.Fuzz(func(t *testing.T, b []byte) {
		var au [][]byte
		for _, n := range strings.Split(string(b), "\x00") {
			au = append(au, []byte(n))
		}
		out := withParameterSets(au, spsBaseline, ppsX264)
		count := func(nalus [][]byte, typ h264.NALUType) int {
			c := 0
			for _, n := range nalus {
				if len(n) > 0 && h264.NALUType(n[0]&0x1f) == typ {
					c++
				}
			}
			return c
		}
		if count(out, h264.NALUTypeSPS) < 1 || count(out, h264.NALUTypePPS) < 1 {
			t.Fatalf("no parameter sets in %x", out)
		}
		added := len(out) - len(au)
		if added < 0 || added > 2 {
			t.Fatalf("%d NAL units added", added)
		}
	})
}
