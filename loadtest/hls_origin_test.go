package loadtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// An SPS and PPS from x264 (160x96, constrained baseline). Baseline uses
// pic_order_cnt_type 2, so the muxer takes decode order for presentation order and needs
// no real slice data: the test writes slices of filler bytes, and the muxer packs them as
// it would any encoder's.
var (
	x264SPS = []byte{0x67, 0x42, 0xc0, 0x0b, 0xd9, 0x02, 0x8d, 0xb0, 0x11, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x0f, 0x14, 0x2a, 0x48}
	x264PPS = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
)

const (
	originRoom  = "live"
	originToken = "tok-3f9a"
	originFPS   = 30
)

// hlsOrigin is a real LL-HLS origin in the test: one gohlslib Muxer per simulcast layer (q:
// video only; f: video and an Opus audio rendition), fed by a goroutine that writes 30
// access units a second, each carrying the timing SEI as the load generator's publisher
// stamps it, plus 20 ms of Opus every 20 ms. It serves Glint's layout:
// /hls/{room}/index.m3u8 (a multivariant playlist the test writes, variants in folders q/
// and f/) and /hls/{room}/{layer}/... from that layer's muxer, and it refuses any request
// without the access token.
type hlsOrigin struct {
	t      *testing.T
	srv    *httptest.Server
	layers map[string]*originLayer

	// refuse503 answers this many multivariant requests 503 with Retry-After: 1.
	refuse503    atomic.Int32
	unauthorised atomic.Int64
	pause        chan time.Duration // the writer stops writing for this long

	mu   sync.Mutex
	sent []int64 // unix ns per frame number

	stop chan struct{}
	done chan struct{}
}

type originLayer struct {
	mux          *gohlslib.Muxer
	video, audio *gohlslib.Track
	videoGets    atomic.Int64 // requests for the video playlist, init and parts
	allGets      atomic.Int64
}

func newHLSOrigin(t *testing.T) *hlsOrigin {
	t.Helper()
	o := &hlsOrigin{t: t, layers: map[string]*originLayer{}, pause: make(chan time.Duration, 1), stop: make(chan struct{}), done: make(chan struct{})}
	for _, name := range []string{"q", "f"} {
		l := &originLayer{video: &gohlslib.Track{Codec: &codecs.H264{SPS: x264SPS, PPS: x264PPS}, ClockRate: 90000}}
		tracks := []*gohlslib.Track{l.video}
		if name == "f" {
			l.audio = &gohlslib.Track{Codec: &codecs.Opus{ChannelCount: 2}, ClockRate: 48000}
			tracks = append(tracks, l.audio)
		}
		// 200 ms parts, a segment per second (a keyframe every 30 frames). The muxer's
		// complaint that a part's duration changed (after a pause) is expected.
		l.mux = &gohlslib.Muxer{Tracks: tracks, Variant: gohlslib.MuxerVariantLowLatency, SegmentMinDuration: time.Second,
			PartMinDuration: 200 * time.Millisecond, OnEncodeError: func(error) {}}
		if err := l.mux.Start(); err != nil {
			t.Fatal(err)
		}
		o.layers[name] = l
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hls/{room}/index.m3u8", o.serveIndex)
	mux.HandleFunc("GET /hls/{room}/{layer}/{file}", o.serveLayer)
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("access_token") != originToken {
			o.unauthorised.Add(1)
			http.Error(w, "no token", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	go o.write()
	t.Cleanup(o.close)
	o.waitLive()
	return o
}

// waitLive returns once the muxers serve playlists (after their first segment, about 1 s).
func (o *hlsOrigin) waitLive() {
	for _, l := range o.layers {
		rec := httptest.NewRecorder()
		l.mux.Handle(rec, httptest.NewRequest(http.MethodGet, "/video1_stream.m3u8", nil)) // blocks until there is content
		if rec.Code != http.StatusOK {
			o.t.Fatalf("muxer: %d", rec.Code)
		}
	}
}

func (o *hlsOrigin) close() {
	close(o.stop)
	<-o.done
	for _, l := range o.layers {
		l.mux.Close() // answers requests still blocked, so the server can close
	}
	o.srv.Close()
}

// URL is the origin's base URL.
func (o *hlsOrigin) URL() string { return o.srv.URL }

// sentAt is when frame n was written, unix ns.
func (o *hlsOrigin) sentAt(n uint64) (int64, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n >= uint64(len(o.sent)) {
		return 0, false
	}
	return o.sent[n], true
}

func (o *hlsOrigin) serveIndex(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("room") != originRoom {
		http.Error(w, "no such room", http.StatusNotFound)
		return
	}
	if o.refuse503.Add(-1) >= 0 {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "at the limit", http.StatusServiceUnavailable)
		return
	}
	q := "?" + r.URL.RawQuery // the token, carried into every URI as the server does
	audio := "f/audio2_stream.m3u8" + q
	pl := playlist.Multivariant{
		Version: 10, IndependentSegments: true,
		Renditions: []*playlist.MultivariantRendition{{
			Type: playlist.MultivariantRenditionTypeAudio, GroupID: "audio", Name: "audio", Autoselect: true, Default: true, URI: &audio,
		}},
		Variants: []*playlist.MultivariantVariant{
			{Bandwidth: 300_000, Codecs: []string{"avc1.42c00b", "opus"}, URI: "q/video1_stream.m3u8" + q, Audio: "audio"},
			{Bandwidth: 2_500_000, Codecs: []string{"avc1.42c00b", "opus"}, URI: "f/video1_stream.m3u8" + q, Audio: "audio"},
		},
	}
	b, err := pl.Marshal()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.apple.mpegurl")
	_, _ = w.Write(b)
}

func (o *hlsOrigin) serveLayer(w http.ResponseWriter, r *http.Request) {
	l := o.layers[r.PathValue("layer")]
	if r.PathValue("room") != originRoom || l == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	l.allGets.Add(1)
	if strings.HasPrefix(r.PathValue("file"), "video") || strings.Contains(r.PathValue("file"), "_video") {
		l.videoGets.Add(1)
	}
	l.mux.Handle(w, r)
}

// write feeds every layer 30 frames a second (a keyframe each second) and Opus every 20 ms,
// with wall-clock timestamps, as a live source does; a value on pause stops it that long.
func (o *hlsOrigin) write() {
	defer close(o.done)
	tick := time.NewTicker(time.Second / originFPS)
	defer tick.Stop()
	start := time.Now()
	slice := make([]byte, 600)
	for i := range slice {
		slice[i] = byte(i*7 + 1)
	}
	var audioPTS int64
	for n := uint64(0); ; n++ {
		select {
		case <-o.stop:
			return
		case d := <-o.pause:
			select {
			case <-o.stop:
				return
			case <-time.After(d):
			}
		case <-tick.C:
		}
		now := time.Now()
		o.mu.Lock()
		o.sent = append(o.sent, now.UnixNano())
		o.mu.Unlock()
		au := [][]byte{timingSEI(now.UnixNano(), n), append([]byte{0x41}, slice...)}
		if n%originFPS == 0 {
			au = [][]byte{x264SPS, x264PPS, timingSEI(now.UnixNano(), n), append([]byte{0x65}, slice...)}
		}
		pts := int64(now.Sub(start)) * 90000 / int64(time.Second)
		for _, l := range o.layers {
			if err := l.mux.WriteH264(l.video, now, pts, au); err != nil {
				o.t.Errorf("WriteH264: %v", err)
				return
			}
		}
		f := o.layers["f"]
		for ; time.Duration(audioPTS)*time.Second/48000 <= now.Sub(start); audioPTS += 960 {
			if err := f.mux.WriteOpus(f.audio, start.Add(time.Duration(audioPTS)*time.Second/48000), audioPTS, [][]byte{opusSilence}); err != nil {
				o.t.Errorf("WriteOpus: %v", err)
				return
			}
		}
	}
}
