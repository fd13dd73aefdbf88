package transcode

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// argAfter returns the arguments following each occurrence of flag.
func argsAfter(args []string, flag string) []string {
	var out []string
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			out = append(out, args[i+1])
		}
	}
	return out
}

func TestBuildArgs(t *testing.T) {
	cfg := Config{}.Defaults()
	target := func(base int, ssrc uint32, pt uint8) rtpTarget {
		return rtpTarget{Port: base, RTCPPort: base + 1, LocalPort: base + 2, LocalRTCPPort: base + 3, SSRC: ssrc, PayloadType: pt}
	}
	for _, tc := range []struct {
		name string
		job  jobArgs
		// what must hold
		outputs    int
		filter     string
		gop        []string
		bitrates   []string
		ssrcs      []string
		levels     []string
		audio      bool
		urlContain string
	}{
		{
			name: "720p30 ladder with audio",
			job: jobArgs{Cfg: cfg, FPS: 30,
				Rungs: []rung{{Rendition{"h", 720, 2_500_000}, 1280}, {Rendition{"q", 480, 1_000_000}, 854}},
				Video: []rtpTarget{target(40000, 1, 102), target(40010, 3_000_000_000, 102)},
				Audio: &rtpTarget{Port: 40020, RTCPPort: 40021, LocalPort: 40022, LocalRTCPPort: 40023, SSRC: 7, PayloadType: 111}},
			outputs:    3,
			filter:     "[0:v:0]split=2[s0][s1];[s0]scale=1280:720:flags=bilinear[v0];[s1]scale=854:480:flags=bilinear[v1]",
			gop:        []string{"30", "30"},
			bitrates:   []string{"2500000", "1000000"},
			ssrcs:      []string{"1", "-1294967296", "7"},
			levels:     []string{"3.1", "3.1"},
			audio:      true,
			urlContain: "rtp://127.0.0.1:40000?localport=40002&localrtcpport=40003&rtcpport=40001&pkt_size=1200",
		},
		{
			name: "one rung, unknown fps counts 30, 2 s GOP",
			job: jobArgs{Cfg: Config{GOP: 2 * time.Second}.Defaults(),
				Rungs: []rung{{Rendition{"q", 360, 600_000}, 640}},
				Video: []rtpTarget{target(41000, 9, 102)}},
			outputs:  1,
			filter:   "[0:v:0]scale=640:360:flags=bilinear[v0]",
			gop:      []string{"60"},
			bitrates: []string{"600000"},
			ssrcs:    []string{"9"},
			levels:   []string{"3.0"},
		},
		{
			name: "passthrough: audio only",
			job: jobArgs{Cfg: cfg, FPS: 25,
				Audio: &rtpTarget{Port: 42000, RTCPPort: 42001, LocalPort: 42002, LocalRTCPPort: 42003, SSRC: 5, PayloadType: 111}},
			outputs: 1,
			ssrcs:   []string{"5"},
			audio:   true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.job.build()
			joined := strings.Join(a, " ")
			if got := argsAfter(a, "-f"); len(got) != tc.outputs+1 || got[0] != "mpegts" {
				t.Errorf("-f: %v, want mpegts input then %d rtp outputs", got, tc.outputs)
			}
			if got := argsAfter(a, "-i"); !slices.Equal(got, []string{"pipe:0"}) {
				t.Errorf("inputs %v", got)
			}
			if got := argsAfter(a, "-filter_complex"); tc.filter != "" && (len(got) != 1 || got[0] != tc.filter) {
				t.Errorf("filter %v, want %q", got, tc.filter)
			} else if tc.filter == "" && len(got) > 0 {
				t.Errorf("filter %v without video", got)
			}
			if got := argsAfter(a, "-g"); !slices.Equal(got, tc.gop) {
				t.Errorf("-g %v, want %v", got, tc.gop)
			}
			if got := argsAfter(a, "-keyint_min"); !slices.Equal(got, tc.gop) {
				t.Errorf("-keyint_min %v, want %v", got, tc.gop)
			}
			if got := argsAfter(a, "-b:v"); !slices.Equal(got, tc.bitrates) {
				t.Errorf("-b:v %v, want %v", got, tc.bitrates)
			}
			if got := argsAfter(a, "-maxrate"); !slices.Equal(got, tc.bitrates) {
				t.Errorf("-maxrate %v, want %v", got, tc.bitrates)
			}
			if got := argsAfter(a, "-ssrc"); !slices.Equal(got, tc.ssrcs) {
				t.Errorf("-ssrc %v, want %v", got, tc.ssrcs)
			}
			if got := argsAfter(a, "-level:v"); !slices.Equal(got, tc.levels) {
				t.Errorf("-level:v %v, want %v", got, tc.levels)
			}
			n := len(tc.job.Rungs)
			for flag, want := range map[string]string{"-bf": "0", "-profile:v": "baseline", "-tune": "zerolatency", "-sc_threshold": "0", "-c:v": "libx264", "-preset": "veryfast"} {
				if got := argsAfter(a, flag); len(got) != n || (n > 0 && slices.ContainsFunc(got, func(s string) bool { return s != want })) {
					t.Errorf("%s %v, want %q for each of %d rungs", flag, got, want, n)
				}
			}
			for _, x := range argsAfter(a, "-x264-params") {
				if !strings.Contains(x, "repeat-headers=1") {
					t.Errorf("-x264-params %q: SPS/PPS must precede every IDR", x)
				}
			}
			if tc.audio {
				for flag, want := range map[string]string{"-c:a": "libopus", "-ar": "48000", "-ac": "2", "-application": "lowdelay", "-frame_duration": "20", "-b:a": "96000", "-payload_type": "111"} {
					if got := argsAfter(a, flag); len(got) == 0 || got[len(got)-1] != want {
						t.Errorf("%s %v, want %q", flag, got, want)
					}
				}
			} else if strings.Contains(joined, "libopus") {
				t.Error("audio output without audio")
			}
			if tc.urlContain != "" && !strings.Contains(joined, tc.urlContain) {
				t.Errorf("no %q in %s", tc.urlContain, joined)
			}
			for _, want := range []string{"-nostdin", "-probesize 32", "-analyzeduration 0", "low_delay"} {
				if !strings.Contains(joined, want) {
					t.Errorf("missing %q: ffmpeg would buffer its input", want)
				}
			}
			if strings.Contains(joined, "nobuffer") {
				t.Error("-fflags nobuffer drops the probed packets (the first IDR): the first picture waits a GOP")
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config (all defaults): %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	if err := (Config{OverloadLag: -1}).Validate(); err != nil {
		t.Fatalf("shedding off: %v", err)
	}
	if err := (Config{RestoreAfter: -1}).Validate(); err != nil {
		t.Fatalf("restoring off: %v", err)
	}
	for name, c := range map[string]Config{
		"four rungs":        {Ladder: []Rendition{{"f", 1080, 1e6}, {"h", 720, 1e6}, {"q", 480, 1e6}, {"q", 240, 1e6}}},
		"bad rid":           {Ladder: []Rendition{{"x", 720, 1e6}}},
		"duplicate rid":     {Ladder: []Rendition{{"h", 720, 1e6}, {"h", 480, 1e6}}},
		"tiny height":       {Ladder: []Rendition{{"h", 8, 1e6}}},
		"tiny bitrate":      {Ladder: []Rendition{{"h", 720, 1000}}},
		"bad passthrough":   {Passthrough: "always"},
		"bad preset":        {Preset: "warpspeed"},
		"gop too long":      {GOP: time.Minute},
		"opus bitrate":      {AudioBitrate: 1_000_000},
		"backoff reversed":  {MinBackoff: time.Second, MaxBackoff: time.Millisecond},
		"stall too short":   {StallTimeout: time.Millisecond},
		"queue too short":   {QueueFrames: 2},
		"queue bytes small": {QueueBytes: 1 << 20},
		"overload lag tiny": {OverloadLag: 10 * time.Millisecond},
		"restore too soon":  {RestoreAfter: 100 * time.Millisecond},
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestHasEncoder(t *testing.T) {
	list := " V....D libx264              libx264 H.264 / AVC\n A....D libopus              libopus Opus\n A..X.. opus   Opus\n"
	if !hasEncoder(list, "libx264") || !hasEncoder(list, "libopus") || hasEncoder(list, "libx265") || hasEncoder(list, "H.264") {
		t.Fatal("hasEncoder misreads ffmpeg -encoders")
	}
}

// TestThreadingByLoad: x264 keeps zerolatency's sliced threads (no added delay) while the
// ladder is light enough to keep real time that way, and switches to frame threads above.
func TestThreadingByLoad(t *testing.T) {
	cfg := Config{}.Defaults()
	ladder := func(srcW, srcH int) jobArgs {
		j := jobArgs{Cfg: cfg, FPS: 30, Rungs: selectRungs(DefaultLadder, srcW, srcH)}
		for range j.Rungs {
			j.Video = append(j.Video, rtpTarget{SSRC: 1, PayloadType: 102})
		}
		return j
	}
	for _, tc := range []struct {
		w, h   int
		frames bool
	}{{1280, 720, false}, {854, 480, false}, {1920, 1080, true}} {
		for _, x := range argsAfter(ladder(tc.w, tc.h).build(), "-x264-params") {
			if got := strings.Contains(x, "sliced-threads=0"); got != tc.frames {
				t.Errorf("%dx%d source: x264 params %q, want frame threads %v", tc.w, tc.h, x, tc.frames)
			}
		}
	}
}
