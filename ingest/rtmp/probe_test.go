package rtmp

import (
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Parameter sets from x264 (ffmpeg 5.1): what OBS and ffmpeg send in the AVC sequence header.
var (
	spsBaseline = mustHex("6742c01eda0280bfe5c044000003000400000300f03c58ba80")   // 640x360 constrained baseline
	spsHighB3   = mustHex("6764001facd9405005bb0110000003001000000303c0f1831960") // 1280x720 high, -bf 3
	spsHighB0   = mustHex("6764001facb402802dd80880000003008000001e078c1950")     // 1280x720 high, -bf 0
	spsMainB2   = mustHex("674d401feca02802dd8088000003000800000301e078c18cb0")   // 1280x720 main, -bf 2
	// 1280x720 Main without VUI (built by hand: hardware encoders send such SPSs): it does
	// not say whether frames are reordered, so the probe must watch the timestamps.
	spsMainNoVUI = mustHex("674d401fec802802dc80")
	ppsX264      = mustHex("68ce0fc8")
	aacLC48kMono = &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 1}
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func meta(video, audio bool) event {
	return event{kind: evMetadata, meta: metadata{video: video, audio: audio, fps: 30}}
}
func vcfg(sps []byte) event { return event{kind: evVideoConfig, sps: sps, pps: ppsX264} }
func acfg() event           { return event{kind: evAudioConfig, asc: aacLC48kMono} }
func idr(dts, pts int) event {
	return event{kind: evVideo, dts: ms(dts), pts: ms(pts), nalus: [][]byte{{0x65, 0x88}}}
}
func aac(dts int) event { return event{kind: evAudio, dts: ms(dts), pts: ms(dts), aac: []byte{1, 2}} }

// frames makes n video frames 33 ms apart from t0, shown in decode order.
func frames(t0, n int) []event {
	var out []event
	for i := range n {
		out = append(out, idr(t0+33*i, t0+33*i))
	}
	return out
}

func TestProbe(t *testing.T) {
	cat := func(parts ...[]event) []event {
		var all []event
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	one := func(e ...event) []event { return e }
	cases := []struct {
		name        string
		events      []event
		wantAfter   int // events read when the probe is done (0: never within them)
		bframes     bool
		audio       bool
		profile     string
		wantErr     error
		width, high int
	}{
		{name: "baseline decides at once", events: one(meta(true, true), vcfg(spsBaseline), acfg()),
			wantAfter: 3, audio: true, profile: "42e01e", width: 640, high: 360},
		{name: "high with reorder in its VUI decides at once", events: one(meta(true, true), vcfg(spsHighB3), acfg()),
			wantAfter: 3, bframes: true, audio: true, profile: "64001f", width: 1280, high: 720},
		{name: "high with no reorder in its VUI decides at once", events: one(meta(true, false), vcfg(spsHighB0)),
			wantAfter: 2, profile: "64001f", width: 1280, high: 720},
		{name: "main with reorder in its VUI decides at once", events: one(meta(true, false), vcfg(spsMainB2)),
			wantAfter: 2, bframes: true, profile: "4d001f", width: 1280, high: 720},
		{name: "main without a VUI promise: pts != dts says B-frames",
			events:    cat(one(meta(true, true), vcfg(spsMainNoVUI), acfg()), one(idr(0, 66), idr(33, 33))),
			wantAfter: 4, bframes: true, audio: true, profile: "4d001f", width: 1280, high: 720},
		{name: "main without a VUI promise: a second in order says none",
			events:    cat(one(meta(true, true), vcfg(spsMainNoVUI), acfg()), frames(0, 40)),
			wantAfter: 3 + 32, audio: true, profile: "4d001f", width: 1280, high: 720},
		{name: "no metadata: waits the window for audio that never comes",
			events:    cat(one(vcfg(spsBaseline)), frames(0, 40)),
			wantAfter: 1 + 32, profile: "42e01e", width: 640, high: 360},
		{name: "audio only", events: cat(one(meta(false, true), acfg()), one(aac(0))), wantAfter: 2, audio: true},
		{name: "broken SPS", events: one(vcfg([]byte{0x67, 0xff, 0xff, 0xff, 0xff})), wantErr: ErrBadStream},
		{name: "no configuration within the window", events: cat(frames(0, 40)), wantErr: ErrBadStream},
		{name: "a clock that does not advance cannot grow the buffer",
			events: cat(one(vcfg(spsMainNoVUI)), func() []event {
				var e []event
				for range maxProbeEvents + 10 {
					e = append(e, idr(5, 5))
				}
				return e
			}()), wantAfter: maxProbeEvents, profile: "4d001f", width: 1280, high: 720},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p prober
			for i, ev := range c.events {
				done, err := p.add(ev)
				if err != nil {
					if c.wantErr == nil || !errors.Is(err, c.wantErr) {
						t.Fatalf("event %d: %v, want %v", i, err, c.wantErr)
					}
					return
				}
				if done {
					if c.wantErr != nil {
						t.Fatalf("done after %d events, want error %v", i+1, c.wantErr)
					}
					if i+1 != c.wantAfter {
						t.Errorf("done after %d events, want %d", i+1, c.wantAfter)
					}
					src := p.src
					if src.BFrames != c.bframes || src.HasAudio != c.audio || src.ProfileLevelID != c.profile || src.Width != c.width || src.Height != c.high {
						t.Errorf("source %+v", src)
					}
					if len(p.buffered) > maxProbeEvents {
						t.Errorf("%d events buffered", len(p.buffered))
					}
					return
				}
			}
			if c.wantErr != nil || c.wantAfter != 0 {
				t.Fatalf("probe not done after %d events", len(c.events))
			}
		})
	}
}

func TestWithParameterSets(t *testing.T) {
	aud, sei, slice := []byte{0x09, 0xf0}, []byte{0x06, 1}, []byte{0x65, 0x88}
	got := withParameterSets([][]byte{aud, sei, slice}, spsBaseline, ppsX264)
	want := [][]byte{aud, spsBaseline, ppsX264, sei, slice}
	if len(got) != len(want) {
		t.Fatalf("got %d NAL units, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i]) != string(want[i]) {
			t.Errorf("NAL %d: %x, want %x", i, got[i], want[i])
		}
	}
	has := [][]byte{spsBaseline, ppsX264, slice}
	if got := withParameterSets(has, spsBaseline, ppsX264); len(got) != 3 {
		t.Errorf("parameter sets added twice: %d NAL units", len(got))
	}
}

// TestFeederRefusesAChangedVideo: a repeated sequence header is fine, a new size or
// profile mid-stream ends the session (the ladder and the passthrough decision were made
// for the probed stream).
func TestFeederRefusesAChangedVideo(t *testing.T) {
	probed := func(sps []byte) Source {
		var p prober
		if err := p.videoConfig(sps, ppsX264); err != nil {
			t.Fatal(err)
		}
		return p.src
	}
	for _, tc := range []struct {
		name      string
		from, to  []byte
		wantError bool
	}{
		{"same configuration again", spsHighB0, spsHighB0, false},
		{"same size and profile, other SPS", spsHighB3, spsHighB0, false},
		{"B-frames appear", spsHighB0, spsHighB3, true},
		{"another size", spsBaseline, spsHighB0, true},
		{"another profile, same size", spsHighB0, spsMainB2, true},
	} {
		f := &feeder{src: probed(tc.from)}
		err := f.feed(vcfg(tc.to))
		if got := errors.Is(err, ErrStreamChanged); got != tc.wantError {
			t.Errorf("%s: %v, want stream-changed %v", tc.name, err, tc.wantError)
		}
	}
}
