package rtmp

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/glintlive/glint/ingest/transcode"
	"github.com/glintlive/glint/sfu"
)

// TestLatency measures RTMP-to-WebRTC latency, for docs/BENCHMARKS.md. It is opt-in
// (GLINT_LATENCY=1; run it without -race): it takes a minute of CPU.
//
// A Go RTMP publisher (gortmplib's client) sends a pre-encoded 1280x720 30 fps clip that
// alternates one second of black with one second of noise, in real time, noting when it
// writes each frame. A pion viewer notes when each frame's first packet arrives. Black
// frames are tiny and noise frames large, before and after the ladder re-encodes them, so
// each black-to-noise cut is recognisable at both ends: its latency is the first large
// frame's arrival minus the write of the first noise frame. It covers RTMP in, the probe,
// the ladder (or passthrough), the SFU and WebRTC out on loopback; not the encoder before
// nor the browser's jitter buffer and decoder after.
func TestLatency(t *testing.T) {
	if os.Getenv("GLINT_LATENCY") == "" {
		t.Skip("set GLINT_LATENCY=1 to measure RTMP-to-WebRTC latency (about a minute)")
	}
	ffmpeg := requireFFmpeg(t)
	aus := latencyClip(t, ffmpeg, 20, "2M")
	for _, c := range []struct {
		name string
		tc   transcode.Config
	}{
		{"passthrough", transcode.Config{}},
		{"ladder (default: 720p + 480p, x264 veryfast)", transcode.Config{Passthrough: transcode.PassthroughNever}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newTestSFU(t)
			srv := ladderServer(t, s, c.tc)
			v := newH264Viewer(t, s, "latency", sfu.LayerFull)
			sent := publishClip(t, srv, publishToken(t, "latency"), aus)
			time.Sleep(time.Second) // the last frames' way through
			got := v.frames()
			if len(got) == 0 {
				t.Fatalf("no frames at the viewer; %s", v.summary())
			}
			// The first picture waits for the connection, the probe and the ladder's start.
			t.Logf("first picture %s after the first frame was written", got[0].at.Sub(sent[0]).Round(time.Millisecond))
			lat := cutLatencies(got, sent)
			if len(lat) < 5 {
				t.Fatalf("only %d cuts recognised at the viewer; %s", len(lat), v.summary())
			}
			t.Logf("cuts in order: %v", roundAll(lat))
			slices.Sort(lat)
			t.Logf("LATENCY %s: %d cuts, median %s, p90 %s, min %s, max %s", c.name, len(lat),
				lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*9/10].Round(time.Millisecond),
				lat[0].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
		})
	}
}

// bigFrame tells noise from black: x264 at 2 Mbit/s makes black frames of a few hundred
// bytes (IDRs included) and noise frames of several kilobytes.
const bigFrame = 3000

// latencyClip encodes the test clip (Baseline, one AUD per access unit) and splits it:
// 1280x720 at 30 fps, black for a second, noise for a second, and so on, noise filling
// bitrate (bits/s, ffmpeg syntax).
func latencyClip(t *testing.T, ffmpeg string, seconds int, bitrate string) [][][]byte {
	t.Helper()
	file := filepath.Join(t.TempDir(), "clip.h264")
	src := fmt.Sprintf("color=c=black:s=1280x720:r=30:d=%d,noise=alls=100:allf=t+u:enable='gte(mod(t\\,2)\\,1)'", seconds)
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", src,
		"-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30",
		"-b:v", bitrate, "-maxrate", bitrate, "-bufsize", "500k", "-pix_fmt", "yuv420p",
		"-bsf:v", "h264_metadata=aud=insert", "-f", "h264", "-y", file).CombinedOutput()
	if err != nil {
		t.Fatalf("encoding the clip: %v\n%s", err, out)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var aus [][][]byte
	for _, n := range splitAnnexB(data) {
		if h264.NALUType(n[0]&0x1f) == h264.NALUTypeAccessUnitDelimiter {
			aus = append(aus, nil)
			continue
		}
		if len(aus) > 0 {
			aus[len(aus)-1] = append(aus[len(aus)-1], n)
		}
	}
	if len(aus) != seconds*30 {
		t.Fatalf("%d access units in the clip, want %d", len(aus), seconds*30)
	}
	return aus
}

// splitAnnexB splits a whole Annex-B file into NAL units (mediacommon's parser caps the
// count at one access unit's worth).
func splitAnnexB(b []byte) [][]byte {
	var out [][]byte
	for _, part := range bytes.Split(b, []byte{0, 0, 1}) {
		part = bytes.TrimRight(part, "\x00") // the zero of a four-byte start code
		if len(part) > 0 {
			out = append(out, part)
		}
	}
	return out
}

// publishClip sends the clip over RTMP in real time and returns when it wrote each frame.
func publishClip(t *testing.T, srv *Server, key string, aus [][][]byte) []time.Time {
	t.Helper()
	return publishClipAt(t, srv, key, aus, func(i int) time.Duration { return time.Duration(i) * time.Second / 30 })
}

// publishClipAt sends frame i when at(i) has passed since the start (its pts stays i/30 s).
func publishClipAt(t *testing.T, srv *Server, key string, aus [][][]byte, at func(i int) time.Duration) []time.Time {
	t.Helper()
	c := dialPublish(t, srv, key)
	defer c.Close()
	var sps, pps []byte
	for _, n := range aus[0] {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = n
		case h264.NALUTypePPS:
			pps = n
		}
	}
	track := &gortmplib.Track{Codec: &codecs.H264{SPS: sps, PPS: pps}}
	w := &gortmplib.Writer{Conn: c, Tracks: []*gortmplib.Track{track}}
	if err := w.Initialize(); err != nil {
		t.Fatal(err)
	}
	sent := make([]time.Time, len(aus))
	start := time.Now()
	for i, au := range aus {
		pts := time.Duration(i) * time.Second / 30
		time.Sleep(time.Until(start.Add(at(i))))
		sent[i] = time.Now()
		if err := w.WriteH264(track, pts, pts, au); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	// Read what the server sent (acknowledgements) before closing: closing with it unread
	// would reset the connection and lose the last frames in flight.
	_ = c.NetConn().SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	for range 1000 {
		if _, err := c.Read(); err != nil {
			break
		}
	}
	return sent
}

// cutLatencies pairs each black-to-noise cut the publisher sent (frames 30, 90, 150, …)
// with the first large frame the viewer got after it.
func cutLatencies(frames []videoFrame, sent []time.Time) []time.Duration {
	var out []time.Duration
	for i := 30; i < len(sent); i += 60 {
		for j, f := range frames {
			// The frame before must be small: this is a cut, not the middle of noise.
			if f.at.After(sent[i]) && f.size > bigFrame && j > 0 && frames[j-1].size < bigFrame {
				if d := f.at.Sub(sent[i]); d < time.Second {
					out = append(out, d)
				}
				break
			}
		}
	}
	return out
}

func roundAll(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(time.Millisecond)
	}
	return out
}
