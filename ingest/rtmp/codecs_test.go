package rtmp

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/message"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"
)

// TestEnhancedRTMPCodecsRefused: HEVC, AV1, VP9 and Opus sent over Enhanced RTMP (as OBS 30
// and ffmpeg 6.1 can) are refused with the codec's name, sent to the encoder as an onStatus
// error before the connection closes; no ladder starts.
func TestEnhancedRTMPCodecsRefused(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	srv := startServer(t, testConfig(), Options{SFU: s, Ladder: l.start})
	cases := []struct {
		name  string
		codec codecs.Codec
		says  string
	}{
		{"hevc", &codecs.H265{}, "HEVC (H.265) video"},
		{"av1", &codecs.AV1{}, "AV1 video"},
		{"vp9", &codecs.VP9{}, "VP9 video"},
		{"opus", &codecs.Opus{IDHeader: &opus.IDHeader{Version: 1, ChannelCount: 2, InputSampleRate: 48000}}, "Opus audio"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := refusals("unsupported_codec")
			status := publishGo(t, srv, publishToken(t, "show"), c.codec)
			if !strings.Contains(status, c.says) || !strings.Contains(status, "Glint takes H.264 video and AAC audio") {
				t.Errorf("the encoder was told %q, want the codec %q named", status, c.says)
			}
			waitFor(t, 2*time.Second, "the refusal counted", func() bool { return refusals("unsupported_codec") == before+1 })
		})
	}
	if n := len(l.list()); n != 0 {
		t.Errorf("%d ladders started", n)
	}
}

// TestMP3Refused: classic FLV MP3 audio (ffmpeg -c:a libmp3lame) is refused by name.
func TestMP3Refused(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	srv := startServer(t, testConfig(), Options{SFU: s, Ladder: l.start})
	args := append(append([]string(nil), baselineArgs[:len(baselineArgs)-4]...), "-c:a", "libmp3lame")
	enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 10*time.Second, args...)
	before := refusals("unsupported_codec")
	err, out := enc.wait(t, 15*time.Second)
	if err == nil {
		t.Fatalf("ffmpeg kept publishing MP3:\n%s", out)
	}
	waitFor(t, 2*time.Second, "the refusal counted", func() bool { return refusals("unsupported_codec") == before+1 })
	if n := len(l.list()); n != 0 {
		t.Errorf("%d ladders started", n)
	}
}

// publishGo publishes one track of codec with gortmplib's client and returns the
// description of the onStatus error the server answered with ("" if none came).
func publishGo(t *testing.T, srv *Server, key string, codec codecs.Codec) string {
	t.Helper()
	c := dialPublish(t, srv, key)
	defer c.Close()
	_ = c.NetConn().SetDeadline(time.Now().Add(5 * time.Second))
	w := &gortmplib.Writer{Conn: c, Tracks: []*gortmplib.Track{{Codec: codec}}}
	if err := w.Initialize(); err != nil {
		return "" // the server may already have closed
	}
	for range 100 { // bounded: the server answers after the first message
		msg, err := c.Read()
		if err != nil {
			return ""
		}
		if cmd, ok := msg.(*message.CommandAMF0); ok && cmd.Name == "onStatus" && len(cmd.Arguments) >= 2 {
			if obj, ok := cmd.Arguments[1].(interface{ GetString(string) (string, bool) }); ok {
				if d, ok := obj.GetString("description"); ok {
					return d
				}
			}
		}
	}
	return ""
}

// dialPublish connects gortmplib's client to srv to publish with key (handshake, connect
// and publish done), failing the test if it cannot.
func dialPublish(t *testing.T, srv *Server, key string) *gortmplib.Client {
	t.Helper()
	u, err := url.Parse(rtmpURL(srv, "live", key))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := &gortmplib.Client{URL: u, Publish: true}
	if err := c.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}
