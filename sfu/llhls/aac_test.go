package llhls

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// TestAACAudio: with ffmpeg the room's Opus is served as AAC (mp4a.40.2, 48 kHz stereo),
// which every HLS player decodes: the multivariant playlist says so, the audio init section
// declares it, every frame is 1024 samples long, and each audio part starts within a frame
// of its video part (the AAC frames were put back on the room's clock, not 1 s or a priming
// frame off it). With audio_codec opus the host's Opus is served as it is.
func TestAACAudio(t *testing.T) {
	to, _ := liveRoom(t, "aac", nil)
	mv := to.waitLive(t, "aac", "")
	if got := mv.Variants[0].Codecs; !slices.Contains(got, "mp4a.40.2") {
		t.Fatalf("variant CODECS %v, want mp4a.40.2", got)
	}
	audio, _ := to.mediaPlaylist(t, "aac", "f/"+audioPlaylist)
	resp, body := to.get(t, "/hls/aac/f/"+audio.Map.URI)
	if resp.StatusCode != 200 {
		t.Fatalf("audio init: %d", resp.StatusCode)
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	c, ok := init.Tracks[0].Codec.(*fmp4.CodecMPEG4Audio)
	if !ok || c.Config.SampleRate != 48000 || c.Config.ChannelCount != 2 {
		t.Fatalf("audio init codec %#v, want AAC 48 kHz stereo", init.Tracks[0].Codec)
	}

	time.Sleep(time.Second) // a few parts
	video, _ := to.mediaPlaylist(t, "aac", "f/"+videoPlaylist)
	audio, _ = to.mediaPlaylist(t, "aac", "f/"+audioPlaylist)
	vparts := map[string]string{}
	for _, u := range partURIs(video) {
		vparts[partKey(u)] = u
	}
	checked := 0
	for _, u := range partURIs(audio) {
		v, ok := vparts[partKey(u)]
		if !ok {
			continue
		}
		for _, d := range sampleDurations(getParts(t, to, "/hls/aac/f/"+u)) {
			if d != aacFrame {
				t.Fatalf("%s: an AAC frame of %d samples", u, d)
			}
		}
		aStart, _ := trackSpan(t, to, "/hls/aac/f/"+u, 48000)
		vStart, _ := trackSpan(t, to, "/hls/aac/f/"+v, 90000)
		if d := aStart - vStart; d < -22*time.Millisecond || d > 22*time.Millisecond {
			t.Errorf("%s starts at %v, its video part at %v: %v apart, more than an AAC frame", u, aStart, vStart, d)
		}
		checked++
	}
	if checked < 3 {
		t.Fatalf("%d audio parts checked", checked)
	}

	t.Run("opus", func(t *testing.T) {
		s := testSFU(t)
		startHost(t, s, "opus", hostOptions{clips: []clipSpec{clipQ}, audio: true})
		cfg := DefaultConfig()
		cfg.AudioCodec = "opus"
		to := startOrigin(t, s, cfg, nil, nil)
		if got := to.waitLive(t, "opus", "").Variants[0].Codecs; !slices.Contains(got, "opus") {
			t.Fatalf("variant CODECS %v, want opus", got)
		}
	})
}

// TestAACAfterHostRepublishes: a host that reconnects (a new session, new RTP timestamps)
// keeps its room's AAC: the audio transcoder starts again on the new timeline, and the
// audio parts of the restarted variant carry audio. Before the fix the old ffmpeg took the
// new timestamps as a jump of hours: every packet dropped, or hours of silence generated.
// Its playlists go on from the first session's (continuity).
func TestAACAfterHostRepublishes(t *testing.T) {
	s := testSFU(t)
	startHost(t, s, "again", hostOptions{clips: []clipSpec{clipQ}, audio: true})
	to := startOrigin(t, s, DefaultConfig(), nil, nil)
	first, _ := to.mediaPlaylist(t, "again", to.waitLive(t, "again", "").Variants[0].URI)
	startHost(t, s, "again", hostOptions{clips: []clipSpec{clipQ}, audio: true}) // replaces the first
	mv, layer := waitRestartedVariant(t, to, "again", first)
	if !slices.Contains(mv.Variants[0].Codecs, "mp4a.40.2") {
		t.Fatalf("after the new session: CODECS %v, want AAC still", mv.Variants[0].Codecs)
	}
	checkAudioParts(t, to, "again", layer)
	// The playlist went on across the new session (continuity): numbered on from the first
	// session's, past a discontinuity, with no GAP segments.
	now, _ := to.mediaPlaylist(t, "again", mv.Variants[0].URI)
	if now.MediaSequence < first.MediaSequence || !slices.ContainsFunc(now.Segments, func(s *playlist.MediaSegment) bool { return s.Discontinuity }) && (now.DiscontinuitySequence == nil || *now.DiscontinuitySequence == 0) {
		t.Errorf("after the new session: EXT-X-MEDIA-SEQUENCE %d (first session's %d), no discontinuity listed or counted", now.MediaSequence, first.MediaSequence)
	}
	for _, seg := range now.Segments {
		if seg.Gap {
			t.Errorf("a GAP segment (%s) after the new session", seg.URI)
		}
	}
}

// waitRestartedVariant waits for room's first variant to have restarted since first (a
// media playlist of it) and to have 8 parts; it returns the multivariant playlist and the
// variant's layer.
func waitRestartedVariant(t *testing.T, to *testOrigin, room string, first *playlist.Media) (*playlist.Multivariant, string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mv := to.waitLive(t, room, "")
		video, _ := to.mediaPlaylist(t, room, mv.Variants[0].URI)
		if prefix(video.Map.URI) != prefix(first.Map.URI) && len(partURIs(video)) >= 8 {
			layer, _, _ := strings.Cut(mv.Variants[0].URI, "/")
			return mv, layer
		}
		if time.Now().After(deadline) {
			t.Fatal("no restarted variant with parts 20 s after the host's new session")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkAudioParts fails unless the newest five audio parts of layer carry 48 kHz audio.
func checkAudioParts(t *testing.T, to *testOrigin, room, layer string) {
	t.Helper()
	audio, _ := to.mediaPlaylist(t, room, layer+"/"+audioPlaylist)
	uris := partURIs(audio)
	if len(uris) < 5 {
		t.Fatalf("%d audio parts", len(uris))
	}
	for _, u := range uris[len(uris)-5:] {
		if _, end := trackSpan(t, to, "/hls/"+room+"/"+layer+"/"+u, 48000); end == 0 {
			t.Fatalf("audio part %s of the new session carries no audio", u)
		}
	}
}

// TestAACSurvivesFFmpegCrash: the audio ffmpeg killed mid-stream is replaced, and meanwhile
// the AAC variants' audio parts keep carrying audio (silent frames), since they cannot fall
// back to Opus and an audio part with no audio stalls hls.js.
func TestAACSurvivesFFmpegCrash(t *testing.T) {
	to, _ := liveRoom(t, "crash", nil)
	mv := to.waitLive(t, "crash", "")
	layer, _, _ := strings.Cut(mv.Variants[0].URI, "/")
	time.Sleep(500 * time.Millisecond)
	pid := childFFmpeg(t, "ogg")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// The parts made from the kill on: wait until the playlist lists a second's worth.
	time.Sleep(1500 * time.Millisecond)
	audio, _ := to.mediaPlaylist(t, "crash", layer+"/"+audioPlaylist)
	uris := partURIs(audio)
	if len(uris) < 10 {
		t.Fatalf("%d audio parts listed", len(uris))
	}
	// A hole in the audio shows as the frame before it lasting as long as the hole (gohlslib
	// dates a sample's end by the next one's start); a new ffmpeg's frames need not fall on
	// the old one's 1024-sample grid, so one frame may be up to a frame long more.
	for _, u := range uris[len(uris)-10:] {
		frames := sampleDurations(getParts(t, to, "/hls/crash/"+layer+"/"+u))
		for _, d := range frames {
			if d > 2*aacFrame {
				t.Errorf("audio part %s: a frame of %d samples: a hole (%v after the kill)", u, d, time.Since(killed).Round(time.Millisecond))
			}
		}
		if len(frames) == 0 {
			t.Errorf("audio part %s carries no audio", u)
		}
	}
	if again := childFFmpeg(t, "ogg"); again == pid {
		t.Fatalf("ffmpeg %d still the audio transcoder after it was killed", pid)
	}
}

// childFFmpeg is the pid of this process's ffmpeg child whose input format is format.
func childFFmpeg(t *testing.T, format string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if !strings.HasSuffix(args[0], "ffmpeg") || !slices.Contains(args, format) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
		if err != nil {
			continue
		}
		// stat: pid (comm) state ppid ...
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(os.Getpid()) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	t.Fatalf("no ffmpeg child reading %s", format)
	return 0
}
