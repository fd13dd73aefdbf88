package loadtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// These tests run `loadtest hls`'s client against hlsOrigin, a real gohlslib LL-HLS muxer in
// the process: the playlists and fMP4 parts are the library's, not a mock of them.

// originGet fetches path (relative to base) from the origin with the token.
func originGet(t *testing.T, base *url.URL, ref string) ([]byte, *url.URL) {
	t.Helper()
	u, err := base.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return body, u
}

// TestHLSPartFramesFromMuxer: the parts the muxer makes yield every frame written, in order,
// with the send time its SEI carried; an audio rendition's init section names no H.264
// track, so its parts are not read for frames.
func TestHLSPartFramesFromMuxer(t *testing.T) {
	o := newHLSOrigin(t)
	defer http.DefaultClient.CloseIdleConnections()
	base, err := url.Parse(o.URL() + "/hls/live/f/video1_stream.m3u8?access_token=" + originToken)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := originGet(t, base, base.String())
	var pl playlist.Media
	if err := pl.Unmarshal(body); err != nil {
		t.Fatal(err)
	}
	init, _ := originGet(t, base, pl.Map.URI)
	tracks, err := h264Tracks(init)
	if err != nil || len(tracks) != 1 {
		t.Fatalf("h264Tracks = %v, %v; want one track", tracks, err)
	}
	parts := sameAsGohlslib(t, body, &pl)
	if len(parts) < 3 {
		t.Fatalf("%d parts listed; want at least 3 after a segment", len(parts))
	}
	var prev *frameStamp
	frames := 0
	for _, p := range parts {
		data, _ := originGet(t, base, p.uri)
		stamps, err := partFrames(data, tracks, nil)
		if err != nil {
			t.Fatalf("%s: %v", p.uri, err)
		}
		if len(stamps) == 0 {
			t.Fatalf("%s: no timed frame in a 200 ms part", p.uri)
		}
		for _, s := range stamps {
			if want, ok := o.sentAt(s.frame); !ok || s.sent != want {
				t.Fatalf("frame %d: sent %d, the origin wrote it at %d", s.frame, s.sent, want)
			}
			if prev != nil && s.frame != prev.frame+1 {
				t.Fatalf("frame %d follows frame %d: frames missing or out of order", s.frame, prev.frame)
			}
			prev = &s
			frames++
		}
	}
	t.Logf("%d parts, %d frames", len(parts), frames)

	// The audio rendition: an init section without H.264, so nothing is read for frames.
	abody, _ := originGet(t, base, "audio2_stream.m3u8?access_token="+originToken)
	var apl playlist.Media
	if err := apl.Unmarshal(abody); err != nil {
		t.Fatal(err)
	}
	sameAsGohlslib(t, abody, &apl)
	ainit, _ := originGet(t, base, apl.Map.URI)
	if at, err := h264Tracks(ainit); err != nil || len(at) != 0 {
		t.Errorf("audio init: h264Tracks = %v, %v; want none", at, err)
	}
	// Parts that are not fMP4 are an error, not a silent zero.
	if _, err := partFrames([]byte("not an mp4 box"), tracks, nil); err == nil {
		t.Error("partFrames accepted garbage")
	}
}

func TestAVCCTimingSEI(t *testing.T) {
	avcc := func(nals ...[]byte) []byte {
		var b []byte
		for _, n := range nals {
			b = append(b, byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n)))
			b = append(b, n...)
		}
		return b
	}
	sei := timingSEI(1234567890123, 42)
	for _, tc := range []struct {
		name   string
		sample []byte
		ok     bool
	}{
		{"SEI after SPS and PPS", avcc(x264SPS, x264PPS, sei, []byte{0x65, 1, 2}), true},
		{"SEI alone", avcc(sei), true},
		{"no SEI", avcc([]byte{0x41, 1, 2, 3}), false},
		{"another SEI", avcc([]byte{0x06, 5, 1, 0, 0x80}), false},
		{"length past the end", append(avcc([]byte{0x41, 1}), 0, 0, 1, 0, 6), false},
		{"empty", nil, false},
	} {
		st, ok := avccTimingSEI(tc.sample)
		if ok != tc.ok || (ok && (st.sent != 1234567890123 || st.frame != 42)) {
			t.Errorf("%s: got %+v, %v; want ok=%v", tc.name, st, ok, tc.ok)
		}
	}
}

func hlsTestConfig(o *hlsOrigin) HLSConfig {
	return HLSConfig{URL: o.URL(), Room: originRoom, Token: originToken, Viewers: 3, Duration: 3 * time.Second, Variant: "top",
		Audio: true, RequestTimeout: 5 * time.Second, JoinConcurrency: 3, ServerPID: os.Getpid()}
}

// TestHLSMeasuresLatency: three viewers on the top variant with its audio: every part
// downloaded once, latencies within what 200 ms parts allow, no stall, no error.
func TestHLSMeasuresLatency(t *testing.T) {
	o := newHLSOrigin(t)
	cfg := hlsTestConfig(o)
	var progress bytes.Buffer
	cfg.Progress = &progress
	rep := runHLS(t, cfg)

	if rep.Connected != 3 || rep.Failed != 0 || len(rep.Errors) != 0 || o.unauthorised.Load() != 0 {
		t.Fatalf("connected %d, failed %d, errors %v, %d requests without the token; want 3, 0, none, 0 (first failure: %s)",
			rep.Connected, rep.Failed, rep.Errors, o.unauthorised.Load(), rep.FirstError)
	}
	if !strings.HasSuffix(rep.Variant, "/hls/live/f/video1_stream.m3u8") || !strings.HasSuffix(rep.Audio, "/hls/live/f/audio2_stream.m3u8") {
		t.Errorf("followed %q and %q; want the top variant (f) and its audio", rep.Variant, rep.Audio)
	}
	if n := o.layers["q"].allGets.Load(); n != 0 {
		t.Errorf("%d requests to layer q; the top variant is f", n)
	}
	if rep.PartTargetMS < 190 || rep.PartTargetMS > 300 {
		t.Errorf("part target %.0f ms; the muxer makes 200 ms parts", rep.PartTargetMS)
	}
	// Five parts a second per viewer, each downloaded once: half that allows for a stalled
	// machine; more than 1.2x would be parts downloaded twice.
	wantParts := 3 * rep.Seconds * 5 // the parts are 200 ms; PART-TARGET is rounded up from them
	if p := float64(rep.Parts); p < wantParts/2 || p > wantParts*1.2 {
		t.Errorf("%d parts; want about %.0f", rep.Parts, wantParts)
	}
	wantFrames := 3 * rep.Seconds * originFPS
	// Every part holds timed frames, so each gives one first-frame latency (give or take the
	// viewers' parts in flight as the window closed).
	if f := float64(rep.Frames); f < wantFrames/2 || f > wantFrames*1.2 || rep.PartLatency.Count+3 < rep.Parts || rep.PartLatency.Count > rep.Parts+3 {
		t.Errorf("%d frames timed, %d parts (%d first frames); want about %.0f frames, one first frame a part",
			rep.Frames, rep.Parts, rep.PartLatency.Count, wantFrames)
	}
	// A part's first frame waits for the part to fill before the part is complete: that is
	// the floor of its latency. The muxer cuts 200 ms parts on frame boundaries, so a part
	// holds six or seven 33 ms frames and its first frame waits at least five frames (the
	// advertised PART-TARGET is the longest part, so it is no floor). Its last frame waits
	// one frame, so the median frame is well below the first frame's. The ceiling is the
	// part plus what a loaded 2-core machine under -race adds.
	const fillFloorMS = 5 * 1000 / originFPS
	l, p := rep.Latency, rep.PartLatency
	if p.P50 < fillFloorMS || p.P50 > rep.PartTargetMS+300 {
		t.Errorf("first-frame latency p50 %.1f ms; want from %d to %.0f", p.P50, fillFloorMS, rep.PartTargetMS+300)
	}
	if l.P50 < 25 || l.P50 >= p.P50 || l.P99 < l.P50 || l.Max < l.P99 || l.Max > 1500 {
		t.Errorf("frame latency p50 %.1f p99 %.1f max %.1f ms; want 25 ms < p50 < first-frame p50 %.1f, p99 <= max <= 1500", l.P50, l.P99, l.Max, p.P50)
	}
	if rep.Stalls != 0 || rep.StallS != 0 {
		t.Errorf("%d stalls (%.2f s) with the stream flowing", rep.Stalls, rep.StallS)
	}
	if rep.Requests == 0 || rep.RequestsPerS <= 0 || rep.Mbps <= 0 || rep.BytesPerViewerPerS <= 0 || rep.ClientCPU <= 0 {
		t.Errorf("requests %d (%.0f/s), %.3f Mbit/s, %.0f B/s per viewer, client CPU %.1f%%: want all positive",
			rep.Requests, rep.RequestsPerS, rep.Mbps, rep.BytesPerViewerPerS, rep.ClientCPU)
	}
	if s := rep.Server; s == nil || s.CPU <= 0 || s.CPUPerViewer <= 0 || s.RSSMiB <= 0 || s.PeakRSSMiB <= 0 {
		t.Errorf("server figures %+v; want CPU, CPU per viewer, RSS and peak (the origin is this process)", s)
	}
	if !strings.Contains(progress.String(), "hls: 3 viewers") {
		t.Errorf("no progress line: %q", progress.String())
	}
}

// TestHLSCountsStalls: the source stops for 1.5 s in the middle of the run. Every viewer
// (on layer q, without audio) waits on its blocking requests and gets no part for as long
// (the part under way when the source stopped completes with the first frame after it):
// one stall each, of about that length. The first multivariant request is refused
// with 503 Retry-After: 1, and the viewer retries it.
func TestHLSCountsStalls(t *testing.T) {
	const pause = 1500 * time.Millisecond
	o := newHLSOrigin(t)
	o.refuse503.Store(1)
	cfg := hlsTestConfig(o)
	cfg.Variant, cfg.Audio, cfg.Duration = "q", false, 4*time.Second
	// The pause starts 2 s in: after the joins (one of which waits out the Retry-After).
	timer := time.AfterFunc(2*time.Second, func() { o.pause <- pause })
	defer timer.Stop()
	rep := runHLS(t, cfg)

	if rep.Connected != 3 || rep.Failed != 0 {
		t.Fatalf("connected %d, failed %d (first failure: %s); want all 3, the refused one after its retry", rep.Connected, rep.Failed, rep.FirstError)
	}
	if len(rep.Errors) != 1 || rep.Errors["multivariant 503"] != 1 {
		t.Errorf("errors %v; want exactly the one refusal (multivariant 503: 1)", rep.Errors)
	}
	if !strings.HasSuffix(rep.Variant, "/hls/live/q/video1_stream.m3u8") || rep.Audio != "" || o.layers["f"].allGets.Load() != 0 {
		t.Errorf("followed %q and %q, %d requests to f; want layer q alone", rep.Variant, rep.Audio, o.layers["f"].allGets.Load())
	}
	// One stall per viewer (a second on a machine that hiccups is tolerated), each the
	// pause plus up to a part, less a few ms of jitter in the two downloads that bound it.
	if rep.Stalls < 3 || rep.Stalls > 4 {
		t.Errorf("%d stalls; want one per viewer (3)", rep.Stalls)
	}
	if per := rep.StallS / 3; per < 0.95*pause.Seconds() || per > pause.Seconds()+1 {
		t.Errorf("stall time %.2f s, %.2f s per viewer; want about the %.1f s pause", rep.StallS, per, pause.Seconds())
	}
	if rep.StallMaxMS < 0.95*msf(pause) || rep.StallMaxMS > msf(pause)+1000 {
		t.Errorf("longest stall %.0f ms; want about the %.0f ms pause", rep.StallMaxMS, msf(pause))
	}
	// The frames written just before the pause sit in a part that completes only after it.
	if rep.Latency.Max < 0.95*msf(pause) {
		t.Errorf("latency max %.0f ms; the frames before the pause waited %.0f ms for their part", rep.Latency.Max, msf(pause))
	}
}

// TestHLSNothingMeasured: a room that is not live (404) lets no viewer join; the run says so
// with ErrNothingMeasured and counts the 404s.
func TestHLSNothingMeasured(t *testing.T) {
	o := newHLSOrigin(t)
	cfg := hlsTestConfig(o)
	cfg.Room = "nosuch"
	rep, err := HLS(context.Background(), cfg)
	if !errors.Is(err, ErrNothingMeasured) {
		t.Fatalf("err = %v; want ErrNothingMeasured", err)
	}
	if rep.Connected != 0 || rep.Failed != 3 || rep.Errors["multivariant 404"] != 3 || !strings.Contains(rep.FirstError, "404") {
		t.Errorf("connected %d, failed %d, errors %v, first failure %q; want 0, 3, three 404s", rep.Connected, rep.Failed, rep.Errors, rep.FirstError)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "multivariant 404: 3") {
		t.Errorf("table (%v):\n%s", err, table.String())
	}
}

func runHLS(t *testing.T, cfg HLSConfig) *HLSReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := HLS(ctx, cfg)
	if rep != nil {
		var table bytes.Buffer
		_ = rep.WriteTable(&table)
		t.Logf("report:\n%s", table.String())
	}
	if err != nil {
		t.Fatalf("HLS: %v", err)
	}
	return rep
}

func TestHLSConfigValidate(t *testing.T) {
	valid := func() HLSConfig {
		return HLSConfig{URL: "http://127.0.0.1:8080", Room: "r", Viewers: 10, Duration: time.Minute, RequestTimeout: 10 * time.Second, JoinConcurrency: 8}
	}
	if cfg := valid(); cfg.Validate() != nil {
		t.Fatalf("valid config rejected: %v", cfg.Validate())
	}
	for name, mutate := range map[string]func(*HLSConfig){
		"no URL":           func(c *HLSConfig) { c.URL = "" },
		"not http":         func(c *HLSConfig) { c.URL = "ftp://x" },
		"no room":          func(c *HLSConfig) { c.Room = "" },
		"room with slash":  func(c *HLSConfig) { c.Room = "a/b" },
		"no viewers":       func(c *HLSConfig) { c.Viewers = 0 },
		"too many viewers": func(c *HLSConfig) { c.Viewers = 20001 },
		"short":            func(c *HLSConfig) { c.Duration = time.Millisecond },
		"unbounded":        func(c *HLSConfig) { c.Duration = 2 * time.Hour },
		"bad variant":      func(c *HLSConfig) { c.Variant = "x" },
		"no timeout":       func(c *HLSConfig) { c.RequestTimeout = 0 },
		"no concurrency":   func(c *HLSConfig) { c.JoinConcurrency = 0 },
		"publish, no clip": func(c *HLSConfig) { c.Publish = true },
	} {
		cfg := valid()
		mutate(&cfg)
		if cfg.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestPickVariant(t *testing.T) {
	mv := &playlist.Multivariant{Variants: []*playlist.MultivariantVariant{
		{Bandwidth: 300, URI: "q/video1_stream.m3u8?access_token=T"},
		{Bandwidth: 3000, URI: "f/video1_stream.m3u8?access_token=T"},
		{Bandwidth: 1000, URI: "h/video1_stream.m3u8?access_token=T"},
	}}
	for layer, want := range map[string]string{"": "f/", "top": "f/", "q": "q/", "h": "h/", "f": "f/"} {
		v, err := pickVariant(mv, layer)
		if err != nil || !strings.HasPrefix(v.URI, want) {
			t.Errorf("pickVariant(%q) = %v, %v; want %s...", layer, v, err, want)
		}
	}
	if _, err := pickVariant(&playlist.Multivariant{Variants: mv.Variants[:1]}, "f"); err == nil {
		t.Error("pickVariant found a layer that is not there")
	}
}

// sameAsGohlslib parses body with the load tester's own reader and fails unless it reads
// what gohlslib's full parser (want) does, for every field a follower uses; it returns the
// parts listed.
func sameAsGohlslib(t *testing.T, body []byte, want *playlist.Media) []playlistPart {
	t.Helper()
	var got mediaPlaylist
	if err := parseMedia(body, &got, nil); err != nil {
		t.Fatalf("parseMedia: %v\n%s", err, body)
	}
	var parts []playlistPart
	add := func(ps []*playlist.MediaPart) {
		for _, p := range ps {
			if !p.Gap {
				parts = append(parts, playlistPart{uri: p.URI, independent: p.Independent})
			}
		}
	}
	for _, s := range want.Segments {
		add(s.Parts)
	}
	add(want.Parts)
	switch {
	case got.mediaSequence != want.MediaSequence || got.segments != len(want.Segments) || got.pending != len(want.Parts):
		t.Fatalf("read msn %d, %d segments, %d parts pending; gohlslib %d, %d, %d",
			got.mediaSequence, got.segments, got.pending, want.MediaSequence, len(want.Segments), len(want.Parts))
	case got.partTarget != want.PartInf.PartTarget || !got.canBlockReload || got.mapURI != want.Map.URI || got.hint != want.PreloadHint.URI:
		t.Fatalf("read %+v; gohlslib part target %s, map %q, hint %q", got, want.PartInf.PartTarget, want.Map.URI, want.PreloadHint.URI)
	case !slices.Equal(got.parts, parts):
		t.Fatalf("read parts %v; gohlslib %v", got.parts, parts)
	}
	return got.parts
}
