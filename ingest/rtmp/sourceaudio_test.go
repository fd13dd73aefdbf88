package rtmp

import (
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtcp"

	"github.com/glintlive/glint/ingest/transcode"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

func ascOf(t *testing.T, c mpeg4audio.AudioSpecificConfig) []byte {
	t.Helper()
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSourceAudioOffered: only AAC-LC in mono or stereo is passed on as it came; HE-AAC,
// more channels, a configuration that does not parse and no audio go through the ladder's
// Opus as before.
func TestSourceAudioOffered(t *testing.T) {
	lc := ascOf(t, mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelConfig: 2})
	he := ascOf(t, mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeSBR, SampleRate: 24000, ChannelConfig: 2, ExtensionSampleRate: 48000})
	surround := ascOf(t, mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelConfig: 6})
	for _, c := range []struct {
		name string
		src  transcode.Source
		want bool
	}{
		{"LC stereo", transcode.Source{HasAudio: true, AudioConfig: lc}, true},
		{"HE-AAC", transcode.Source{HasAudio: true, AudioConfig: he}, false},
		{"5.1", transcode.Source{HasAudio: true, AudioConfig: surround}, false},
		{"garbage", transcode.Source{HasAudio: true, AudioConfig: []byte{0xff}}, false},
		{"no audio", transcode.Source{}, false},
	} {
		if got := newSourceAudio(c.src, false) != nil; got != c.want {
			t.Errorf("%s: offered %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSourceAudioDating: units are dated on the video's media clock from its sender reports
// (a passthrough's latest, at the decode time of the frame it was sent with; the ffmpeg
// ladder's first, at the stream's start), units before the first are not passed on, a stream without video is dated by
// arrival, and units whose millisecond times are off the 1,024-sample grid are put on it.
func TestSourceAudioDating(t *testing.T) {
	lc := ascOf(t, mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelConfig: 2})
	report := time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name               string
		video, passthrough bool
		wantAnchor         time.Duration // the capture time of stream time 0, from report
	}{
		{"passthrough", true, true, -90 * time.Millisecond},
		{"ladder", true, false, -20 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newTestSFU(t)
			room, err := s.Join("dating", sfu.RolePublisher)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.NewIngestPeer(testLogger())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { room.ClearPublisher(p); p.Close(); room.Leave(sfu.RolePublisher) }()
			room.SetPublisher(p)
			log := &sfutest.SourceAudioLog{}
			room.AddSourceAudioReader(log)
			a := newSourceAudio(transcode.Source{HasAudio: true, HasVideo: c.video, AudioConfig: lc}, c.passthrough)
			if !a.offer(room, p, lc) {
				t.Fatal("not offered")
			}
			a.wroteAudio(20 * time.Millisecond) // audio first: the ladder's start
			a.write(20*time.Millisecond, []byte{1})
			a.wroteVideo(100*time.Millisecond, true) // the first keyframe
			a.videoReport(&rtcp.SenderReport{NTPTime: sfu.NTP(report)})
			// A frame 500 ms later arrives 10 ms late: a passthrough's report moves the anchor
			// with it, as it moves the video's clock; ffmpeg's later reports follow its first.
			a.wroteVideo(600*time.Millisecond, false)
			a.videoReport(&rtcp.SenderReport{NTPTime: sfu.NTP(report.Add(510 * time.Millisecond))})
			a.write(1000*time.Millisecond, []byte{2})
			a.write(1023*time.Millisecond, []byte{3}) // 1,014.3 samples later: on the grid, 1,024
			units := log.Units()
			if len(units) != 2 {
				t.Fatalf("%d units passed on; want 2 (none before the video's first report)", len(units))
			}
			want := report.Add(c.wantAnchor + time.Second)
			if d := units[0].Capture.Sub(want); d > time.Millisecond || d < -time.Millisecond {
				t.Errorf("the unit at 1 s is dated %v, want %v", units[0].Capture, want)
			}
			if units[0].TS != 44100 || units[1].TS != 44100+1024 {
				t.Errorf("timestamps %d, %d; want 44100, 45124", units[0].TS, units[1].TS)
			}
		})
	}
	t.Run("audio only", func(t *testing.T) {
		a := newSourceAudio(transcode.Source{HasAudio: true, AudioConfig: lc}, false)
		before := time.Now()
		a.write(time.Second, []byte{1}) // no room yet: dated, not passed on
		if !a.anchored || a.anchor.Before(before.Add(-time.Second-time.Millisecond)) || a.anchor.After(time.Now().Add(-time.Second)) {
			t.Errorf("an audio-only stream's time 0 is %v; want its first unit's arrival less 1 s", a.anchor)
		}
	})
}
