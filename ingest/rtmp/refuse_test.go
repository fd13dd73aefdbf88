package rtmp

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/glintlive/glint/signaling/auth"
)

// TestRefusals: a publish that may not happen is refused before anything is accepted,
// ffmpeg prints the reason (its "Server error:" line is our onStatus description), the
// refusal is counted by reason, and no ladder starts and no room gets a host.
func TestRefusals(t *testing.T) {
	s := newTestSFU(t)
	var l ladders
	srv := startServer(t, testConfig(), Options{SFU: s, Ladder: l.start})
	cases := []struct {
		name, app, key, reason, says string
	}{
		{"garbage key", "live", "not-a-token", "bad_token", "invalid access token"},
		{"foreign secret", "live", foreignToken(t), "bad_token", "invalid access token"},
		{"viewer token", "live", token(t, auth.TokenOptions{Room: "show", Subscribe: true}), "forbidden", "lacks canPublish"},
		{"wrong app", "studio", publishToken(t, "show"), "wrong_app", "wrong application"},
		{"no key", "live", "", "bad_token", "set the stream key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := refusals(c.reason)
			url := rtmpURL(srv, c.app, c.key)
			if c.key == "" {
				url = fmt.Sprintf("rtmp://%s/%s", srv.Addr(), c.app)
			}
			enc := publishFFmpeg(t, url, 10*time.Second, baselineArgs...)
			err, out := enc.wait(t, 15*time.Second)
			if err == nil {
				t.Fatalf("ffmpeg published:\n%s", out)
			}
			if !strings.Contains(out, "Server error: glint: ") || !strings.Contains(out, c.says) {
				t.Errorf("ffmpeg did not print the reason %q:\n%s", c.says, tail(out, 1500))
			}
			waitFor(t, 2*time.Second, "the refusal counted", func() bool {
				return refusals(c.reason) == before+1
			})
		})
	}
	if n := len(l.list()); n != 0 {
		t.Errorf("%d ladders started for refused publishes", n)
	}
	if rooms := s.Rooms(); len(rooms) != 0 {
		t.Errorf("refused publishes made rooms: %+v", rooms)
	}
}

// TestPlayRefused: RTMP playback is not offered, and a player is told so.
func TestPlayRefused(t *testing.T) {
	ffmpeg := requireFFmpeg(t)
	s := newTestSFU(t)
	var l ladders
	srv := startServer(t, testConfig(), Options{SFU: s, Ladder: l.start})
	cmd := exec.Command(ffmpeg, "-hide_banner", "-nostdin", "-rw_timeout", "5000000", "-i", rtmpURL(srv, "live", publishToken(t, "show")), "-t", "1", "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "playback over RTMP is not offered") {
		t.Fatalf("ffmpeg play: %v\n%s", err, tail(string(out), 1500))
	}
}

// TestNoTranscoder: without ffmpeg the server still accepts connections but refuses every
// publish, telling the encoder why.
func TestNoTranscoder(t *testing.T) {
	s := newTestSFU(t)
	missing := errors.New(`transcode: ffmpeg not found (install it: apt-get install ffmpeg): exec: "ffmpeg": executable file not found in $PATH`)
	srv := startServer(t, testConfig(), Options{SFU: s, Unavailable: missing})
	before := refusals("no_transcoder")
	enc := publishFFmpeg(t, rtmpURL(srv, "live", publishToken(t, "show")), 10*time.Second, baselineArgs...)
	err, out := enc.wait(t, 15*time.Second)
	if err == nil || !strings.Contains(out, "no transcoder (ffmpeg) available") || !strings.Contains(out, "apt-get install ffmpeg") {
		t.Fatalf("ffmpeg: %v\n%s", err, tail(out, 1500))
	}
	if got := refusals("no_transcoder"); got != before+1 {
		t.Errorf("no_transcoder refusals %v, want %v", got, before+1)
	}
	if len(s.Rooms()) != 0 {
		t.Errorf("rooms: %+v", s.Rooms())
	}
}

// foreignToken is a well-formed publish token signed with a secret the server does not know.
func foreignToken(t *testing.T) string {
	tok, err := auth.Issue(testKey, "another-secret", auth.TokenOptions{Room: "show", Identity: "host", Publish: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
