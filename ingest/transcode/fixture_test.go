package transcode

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"
)

// needFFmpeg returns the ffmpeg to test with. In CI a missing ffmpeg fails the test loudly
// (the RTMP ladder would go untested); elsewhere it skips with what to install.
func needFFmpeg(t testing.TB) string {
	t.Helper()
	path, err := Check("")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ffmpeg is required in CI: %v", err)
		}
		t.Skipf("needs ffmpeg with libx264 and libopus (apt-get install ffmpeg): %v", err)
	}
	return path
}

// fixture is a host's stream as RTMP ingest would hand it over: access units with real
// timing, made by ffmpeg and read back with mediacommon's MPEG-TS reader.
type fixture struct {
	src     Source
	samples []sample // in decode order, video and audio interleaved by time
}

type sample struct {
	video    bool
	pts, dts time.Duration // from the first video frame's dts
	au       [][]byte
}

// fixtureSpec is what to ask ffmpeg for.
type fixtureSpec struct {
	width, height int
	fps           int
	seconds       float64
	profile       string // x264 profile: baseline, main, high
	bframes       int
	audio         bool
	gop           int // frames between keyframes; 0: fps (one a second)
}

// makeFixture encodes testsrc2 (and a sine tone) as the spec says, once per test binary.
func makeFixture(t testing.TB, ffmpeg string, spec fixtureSpec) fixture {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "src.ts")
	args := []string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", spec.width, spec.height, spec.fps)}
	if spec.audio {
		args = append(args, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100")
	}
	args = append(args, "-t", fmt.Sprint(spec.seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-profile:v", spec.profile, "-pix_fmt", "yuv420p",
		"-bf", fmt.Sprint(spec.bframes), "-g", fmt.Sprint(cmp.Or(spec.gop, spec.fps)), "-threads", "1")
	if spec.audio {
		args = append(args, "-c:a", "aac", "-b:a", "96k", "-ac", "2")
	}
	args = append(args, "-f", "mpegts", out)
	if b, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
		t.Fatalf("make fixture: %v: %s", err, b)
	}
	return readFixture(t, out)
}

func readFixture(t testing.TB, path string) fixture {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := &mpegts.Reader{R: bufio.NewReader(f)}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var fx fixture
	for _, tr := range r.Tracks() {
		switch c := tr.Codec.(type) {
		case *codecs.H264:
			fx.src.HasVideo = true
			r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				fx.samples = append(fx.samples, sample{video: true, pts: fromTicks(pts), dts: fromTicks(dts), au: au})
				return nil
			})
		case *codecs.MPEG4Audio:
			fx.src.HasAudio = true
			asc, err := c.Config.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			fx.src.AudioConfig = asc
			r.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				// One ADTS frame is 1024 samples; several may share a PES packet.
				step := time.Duration(1024) * time.Second / time.Duration(c.Config.SampleRate)
				for i, au := range aus {
					fx.samples = append(fx.samples, sample{pts: fromTicks(pts) + time.Duration(i)*step, dts: fromTicks(pts) + time.Duration(i)*step, au: [][]byte{au}})
				}
				return nil
			})
		}
	}
	for {
		if err := r.Read(); err != nil {
			break
		}
	}
	if len(fx.samples) == 0 {
		t.Fatal("fixture has no samples")
	}
	sort.SliceStable(fx.samples, func(i, j int) bool { return fx.samples[i].dts < fx.samples[j].dts })
	base := fx.samples[0].dts
	for i := range fx.samples {
		fx.samples[i].pts -= base
		fx.samples[i].dts -= base
	}
	for _, s := range fx.samples {
		if !s.video {
			continue
		}
		if s.pts != s.dts {
			fx.src.BFrames = true
		}
		var sps, pps []byte
		for _, n := range s.au {
			switch n[0] & 0x1f {
			case 7:
				sps = n
			case 8:
				pps = n
			}
		}
		if sps != nil && pps != nil && fx.src.SPS == nil {
			bframes := fx.src.BFrames
			if err := fx.src.setParams(sps, pps); err != nil {
				t.Fatal(err)
			}
			fx.src.BFrames = fx.src.BFrames || bframes
		}
	}
	// RTMP carries SPS and PPS only in the sequence header: take them out of the access
	// units, so the ladder has to put them back in front of each IDR itself.
	for i, s := range fx.samples {
		if !s.video {
			continue
		}
		au := s.au[:0:0]
		for _, n := range s.au {
			if t := n[0] & 0x1f; t != 7 && t != 8 {
				au = append(au, n)
			}
		}
		fx.samples[i].au = au
	}
	return fx
}

// firstVideo is the stream time of the first video frame.
func (fx fixture) firstVideo() time.Duration {
	for _, s := range fx.samples {
		if s.video {
			return s.dts
		}
	}
	return 0
}

func fromTicks(t int64) time.Duration { return time.Duration(t) * time.Second / 90000 }

// feed writes the fixture into l at its own pace from start (as a live host would), looping
// it `loops` times with timestamps running on, until stop closes. It returns when done.
func feed(t testing.TB, l *Ladder, fx fixture, loops int, stop <-chan struct{}, start time.Time) {
	var span time.Duration
	for _, s := range fx.samples {
		span = max(span, s.dts+40*time.Millisecond)
	}
	for loop := range loops {
		off := time.Duration(loop) * span
		for _, s := range fx.samples {
			at := start.Add(off + s.dts)
			select {
			case <-stop:
				return
			case <-time.After(time.Until(at)):
			}
			var err error
			if s.video {
				err = l.WriteH264(off+s.pts, off+s.dts, s.au)
			} else {
				err = l.WriteAAC(off+s.pts, s.au[0])
			}
			if err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}
}
