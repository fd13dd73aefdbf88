package llhls

import (
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// TestAudioPartsReachTheirEnd: every audio part carries audio up to where the part ends (the
// next video part's start), so a player that buffers audio by the playlist's part ends
// finds no gap. Muxed as packets came, the audio packet that began just before a part's
// end was still held by gohlslib when the part closed: audio parts ended up to 20 ms
// short, and hls.js in Chromium stopped loading audio for 1.4 s every 20-40 s
// (holdback.go).
func TestAudioPartsReachTheirEnd(t *testing.T) {
	to, _ := liveRoom(t, "avparts", nil)
	to.waitLive(t, "avparts", "")
	checked, worst := map[string]bool{}, time.Duration(0)
	// The playlists list the parts of the last second or two: read them a few times.
	for range 4 {
		time.Sleep(time.Second)
		video, _ := to.mediaPlaylist(t, "avparts", "f/"+videoPlaylist)
		audio, _ := to.mediaPlaylist(t, "avparts", "f/"+audioPlaylist)
		vparts := partURIs(video)
		// The playlists were read a moment apart: line up their parts by number.
		index := map[string]int{}
		for i, u := range vparts {
			index[partKey(u)] = i
		}
		for _, u := range partURIs(audio) {
			i, ok := index[partKey(u)]
			if !ok || i+1 >= len(vparts) || checked[u] {
				continue
			}
			aStart, aEnd := trackSpan(t, to, "/hls/avparts/f/"+u, 48000)
			next, _ := trackSpan(t, to, "/hls/avparts/f/"+vparts[i+1], 90000)
			if aEnd == 0 {
				t.Errorf("audio part %s carries no audio", u)
				continue
			}
			short := next - aEnd
			worst = max(worst, short)
			// At most a tick of rounding short; past the end by up to a packet (20 ms) is fine.
			if short > time.Millisecond {
				t.Errorf("audio part %s: audio %v..%v, but the part ends at %v: %v short", u, aStart, aEnd, next, short)
			}
			checked[u] = true
		}
	}
	if len(checked) < 20 {
		t.Fatalf("checked %d parts; want at least 20", len(checked))
	}
	t.Logf("%d audio parts checked; the most any fell short of its end: %v", len(checked), worst)
}

// partKey is a part's number ("_part42" of gohlslib's "{prefix}_{stream}_part42.mp4"), the
// same in the audio and the video playlist.
func partKey(uri string) string {
	if i := strings.LastIndex(uri, "_part"); i >= 0 {
		return uri[i:]
	}
	return uri
}

// getParts fetches and parses an fMP4 part (its moof+mdat pairs).
func getParts(t *testing.T, to *testOrigin, path string) fmp4.Parts {
	t.Helper()
	resp, body := to.get(t, path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var parts fmp4.Parts
	if err := parts.Unmarshal(body); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return parts
}

// sampleDurations are the durations of every sample of a part, in order.
func sampleDurations(parts fmp4.Parts) []uint32 {
	var out []uint32
	for _, p := range parts {
		for _, tr := range p.Tracks {
			for _, s := range tr.Samples {
				out = append(out, s.Duration)
			}
		}
	}
	return out
}

// trackSpan is where the (only) track of an fMP4 part starts and ends, by its decode times.
func trackSpan(t *testing.T, to *testOrigin, path string, rate uint64) (start, end time.Duration) {
	t.Helper()
	parts := getParts(t, to, path)
	first := true
	var s, e uint64
	for _, p := range parts {
		for _, tr := range p.Tracks {
			if first {
				s, first = tr.BaseTime, false
			}
			d := tr.BaseTime
			for _, smp := range tr.Samples {
				d += uint64(smp.Duration)
			}
			e = max(e, d)
		}
	}
	if first {
		return 0, 0
	}
	toDur := func(x uint64) time.Duration {
		return time.Duration(x/rate)*time.Second + time.Duration(x%rate)*time.Second/time.Duration(rate)
	}
	return toDur(s), toDur(e)
}

// BenchmarkHoldback: holding a frame and muxing it later copies it into a reused slot.
func BenchmarkHoldback(b *testing.B) {
	au := [][]byte{make([]byte, 30), make([]byte, 4000)}
	var h holdback
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if h.len() == 4 {
			h.pop()
		}
		h.push(now, int64(i), au, 4030, now)
	}
}
