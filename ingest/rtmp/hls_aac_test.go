package rtmp

import (
	"bytes"
	"math"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"

	"github.com/glintlive/glint/ingest/transcode"
	"github.com/glintlive/glint/sfu/llhls"
	"github.com/glintlive/glint/sfu/sfutest"
)

// TestLLHLSCarriesTheHostsAAC: an RTMP host's AAC reaches LL-HLS as the encoder made it,
// not transcoded to Opus for WebRTC and back to AAC. ffmpeg encodes a clip once (x264
// baseline, a 44.1 kHz AAC sine, keyframes every second) and publishes that file's streams
// as they are; the room's LL-HLS audio rendition must declare 44.1 kHz (the transcoded
// path makes 48 kHz), and every audio sample of its segments must be, byte for byte, the
// clip's access units in order, 1,024 samples apart. Run with the video passed through and
// with the ffmpeg ladder, whose clocks the audio is dated on differently (sourceaudio.go):
// the audio's offset from the video, against the clip's, is logged.
func TestLLHLSCarriesTheHostsAAC(t *testing.T) {
	ffmpeg := requireFFmpeg(t)
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.flv")
	encode := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-b:a", "96k", "-t", "30", clip)
	if out, err := encode.CombinedOutput(); err != nil {
		t.Fatalf("encode the clip: %v\n%s", err, out)
	}
	adts := filepath.Join(dir, "clip.aac")
	if out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-i", clip, "-vn", "-c:a", "copy", "-f", "adts", adts).CombinedOutput(); err != nil {
		t.Fatalf("extract the clip's AAC: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(adts)
	if err != nil {
		t.Fatal(err)
	}
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	units := make([][]byte, len(pkts))
	for i, p := range pkts {
		units[i] = p.AU
	}
	// Where each stream starts in the clip: ffmpeg moves the video later by the AAC
	// encoder's priming frame, which the audio's first unit is.
	clipAudio, clipVideo := firstPacket(t, clip, "a:0"), firstPacket(t, clip, "v:0")

	for _, mode := range []struct {
		name string
		pass transcode.Passthrough
	}{{"passthrough", transcode.PassthroughAuto}, {"ladder", transcode.PassthroughNever}} {
		t.Run(mode.name, func(t *testing.T) {
			s := newTestSFU(t)
			srv := ladderServer(t, s, transcode.Config{Passthrough: mode.pass, Preset: "ultrafast",
				Ladder: []transcode.Rendition{{RID: "f", Height: 180, Bitrate: 300_000}}})
			cfg := llhls.DefaultConfig()
			cfg.FFmpeg = ffmpeg // the Opus path is there too: the host's own AAC must win
			origin, err := llhls.New(cfg, s, nil, testLogger())
			if err != nil {
				t.Fatal(err)
			}
			web := httptest.NewServer(origin.Handler())
			t.Cleanup(func() { web.Close(); origin.Close() })

			room := "aac" + mode.name
			enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, room)), 30*time.Second, "-re", "-i", clip, "-c", "copy")
			// The stream starts on its first request, well after the host did: a passthrough's
			// video clock has moved with the host's arrival since its first sender report.
			waitFor(t, 20*time.Second, "the host on the stage", func() bool { r := s.Room(room); return r != nil && r.Info().Publishing })
			time.Sleep(6 * time.Second)
			base := web.URL + llhls.PlaylistPath(room)
			var mv *playlist.Multivariant
			waitFor(t, 20*time.Second, "the multivariant playlist", func() bool {
				mv, err = sfutest.GetPlaylist[*playlist.Multivariant](base)
				return err == nil
			})
			if len(mv.Renditions) == 0 || mv.Renditions[0].URI == nil || len(mv.Variants) == 0 {
				t.Fatalf("no audio rendition or no variant: %+v\nffmpeg:\n%s", mv, tail(enc.out.String(), 2000))
			}
			audioURL := resolve(t, base, *mv.Renditions[0].URI)
			videoURL := resolve(t, base, mv.Variants[0].URI)
			var audio *playlist.Media
			waitFor(t, 20*time.Second, "four segments", func() bool {
				audio, err = sfutest.GetPlaylist[*playlist.Media](audioURL)
				if err != nil {
					return false
				}
				n := 0
				for _, seg := range audio.Segments {
					if !seg.Gap {
						n++
					}
				}
				return n >= 4
			})
			video, err := sfutest.GetPlaylist[*playlist.Media](videoURL) // after the audio's: it has all of its segments
			if err != nil {
				t.Fatal(err)
			}

			init := getInit(t, resolve(t, audioURL, audio.Map.URI))
			tr := init.Tracks[0]
			aac, ok := tr.Codec.(*codecs.MPEG4Audio)
			if !ok || aac.Config.SampleRate != 44100 || tr.TimeScale != 44100 {
				t.Fatalf("audio track %T %+v at timescale %d; want the host's own AAC at 44.1 kHz", tr.Codec, tr.Codec, tr.TimeScale)
			}

			matched, offsets, next := 0, []time.Duration{}, -1
			for i, seg := range audio.Segments {
				if seg.Gap {
					next = -1
					continue
				}
				aparts := getMedia(t, resolve(t, audioURL, seg.URI))
				samples, start := samplesOf(aparts)
				at := runIn(units, samples)
				if at < 0 {
					t.Fatalf("segment %s: its %d audio samples are not a run of the clip's AAC units", seg.URI, len(samples))
				}
				if next >= 0 && at != next {
					t.Errorf("segment %s starts at the clip's unit %d; the one before ended at %d", seg.URI, at, next)
				}
				next = at + len(samples)
				for _, p := range aparts {
					for _, pt := range p.Tracks {
						for _, sm := range pt.Samples {
							if sm.Duration != 1024 {
								t.Fatalf("segment %s: an audio sample %d long, not 1,024", seg.URI, sm.Duration)
							}
						}
					}
				}
				matched += len(samples)
				if off, ok := avOffset(t, videoURL, video, audio.MediaSequence+i, start, clipAudio+time.Duration(at)*1024*time.Second/44100-clipVideo); ok {
					offsets = append(offsets, off)
				}
			}
			t.Logf("%s: %d audio samples matched the clip's AAC byte for byte; audio offset from video against the clip's, per segment: %v", mode.name, matched, offsets)
			if matched < 100 || len(offsets) == 0 {
				t.Fatalf("only %d audio samples and %d offsets checked", matched, len(offsets))
			}
			// Lip sync: the ladder's audio and video are dated from one sender report, so the
			// offset is exact; a passthrough's clocks follow the host's arrival (a report a
			// second, each with its own delay), which a loaded machine jitters.
			bound := 5 * time.Millisecond
			if mode.pass != transcode.PassthroughNever {
				bound = 50 * time.Millisecond
			}
			for _, off := range offsets {
				if off > bound || off < -bound {
					t.Errorf("audio %v off its video (bound %v)", off, bound)
				}
			}
		})
	}
}

// avOffset is how much later the audio of segment msn plays against its video than in the
// clip: the video segment of that number starts on a keyframe, which the clip has on every
// whole second of its video, and the audio starts at clip time (from the video's start),
// so the offset is known modulo a second (one over half a second would be reported wrong).
func avOffset(t *testing.T, videoURL string, video *playlist.Media, msn int, audioStart uint64, clip time.Duration) (time.Duration, bool) {
	t.Helper()
	if i := msn - video.MediaSequence; i >= 0 && i < len(video.Segments) && !video.Segments[i].Gap {
		seg := video.Segments[i]
		vparts := getMedia(t, resolve(t, videoURL, seg.URI))
		if len(vparts) == 0 || len(vparts[0].Tracks) == 0 {
			return 0, false
		}
		v := time.Duration(vparts[0].Tracks[0].BaseTime) * time.Second / 90000
		a := time.Duration(audioStart) * time.Second / 44100
		d := (a - v) - clip
		d -= time.Duration(math.Round(d.Seconds())) * time.Second
		return d, true
	}
	return 0, false
}

// firstPacket is the time of the first packet of a stream of file, by ffprobe.
func firstPacket(t *testing.T, file, stream string) time.Duration {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", stream, "-show_entries", "packet=pts_time",
		"-read_intervals", "%+#1", "-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	sec, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe %s: %q: %v", file, out, err)
	}
	return time.Duration(sec * float64(time.Second))
}

// runIn is where samples run in units, -1 if they do not.
func runIn(units, samples [][]byte) int {
	if len(samples) == 0 {
		return -1
	}
next:
	for i := range units {
		if i+len(samples) > len(units) {
			return -1
		}
		for j, s := range samples {
			if !bytes.Equal(units[i+j], s) {
				continue next
			}
		}
		return i
	}
	return -1
}

// samplesOf lists a segment's samples in order, and its first one's decode time.
func samplesOf(parts fmp4.Parts) (out [][]byte, start uint64) {
	first := true
	for _, p := range parts {
		for _, tr := range p.Tracks {
			if first {
				start, first = tr.BaseTime, false
			}
			for _, s := range tr.Samples {
				out = append(out, s.Payload)
			}
		}
	}
	return out, start
}

func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r.String()
}

func getInit(t *testing.T, u string) *fmp4.Init {
	t.Helper()
	b, err := sfutest.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(b)); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	if len(init.Tracks) != 1 {
		t.Fatalf("%s: %d tracks; want the audio alone", u, len(init.Tracks))
	}
	return &init
}

func getMedia(t *testing.T, u string) fmp4.Parts {
	t.Helper()
	b, err := sfutest.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	var parts fmp4.Parts
	if err := parts.Unmarshal(b); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return parts
}
