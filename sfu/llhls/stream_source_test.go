package llhls

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// TestDeclaredOpusStaysOpus: a stream whose variants declared Opus (here: no ffmpeg, a
// WebRTC host) keeps Opus when the room's host offers its own AAC: the playlists' CODECS do
// not change under the same URLs, and no AAC frame goes into the Opus rendition.
func TestDeclaredOpusStaysOpus(t *testing.T) {
	s := testSFU(t)
	host := startHost(t, s, "declared", hostOptions{clips: []clipSpec{clipQ}, audio: true})
	cfg := DefaultConfig()
	cfg.FFmpeg = ""
	to := startOrigin(t, s, cfg, nil, nil)
	if got := to.waitLive(t, "declared", "").Variants[0].Codecs; !slices.Contains(got, "opus") {
		t.Fatalf("variant CODECS %v, want opus", got)
	}
	asc, err := (&mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelConfig: 2}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	a := host.room.SetSourceAudio(host.peer, asc, 44100)
	if a == nil {
		t.Fatal("the host could not offer its AAC")
	}
	unit := []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c} // not an Opus frame the host sends
	for i := range 60 {
		a.Write(uint32(i*1024), time.Now(), unit)
		time.Sleep(23 * time.Millisecond)
	}
	mv := to.waitLive(t, "declared", "")
	if got := mv.Variants[0].Codecs; !slices.Contains(got, "opus") || slices.Contains(got, "mp4a.40.2") {
		t.Fatalf("after the host offered AAC: CODECS %v, want opus still", got)
	}
	layer, _, _ := strings.Cut(mv.Variants[0].URI, "/")
	audio, _ := to.mediaPlaylist(t, "declared", layer+"/"+audioPlaylist)
	uris := partURIs(audio)
	if len(uris) < 5 {
		t.Fatalf("%d audio parts", len(uris))
	}
	for _, u := range uris[len(uris)-5:] {
		for _, p := range getParts(t, to, "/hls/declared/"+layer+"/"+u) {
			for _, tr := range p.Tracks {
				for _, sm := range tr.Samples {
					if bytes.Equal(sm.Payload, unit) {
						t.Fatalf("audio part %s carries the host's AAC in its Opus rendition", u)
					}
				}
			}
		}
	}
}

// audioTimescale is the timescale of a media playlist's audio init section.
func audioTimescale(t *testing.T, to *testOrigin, room, layer string) uint32 {
	t.Helper()
	audio, _ := to.mediaPlaylist(t, room, layer+"/"+audioPlaylist)
	resp, body := to.get(t, "/hls/"+room+"/"+layer+"/"+audio.Map.URI)
	if resp.StatusCode != 200 {
		t.Fatalf("audio init: %d %s", resp.StatusCode, body)
	}
	var init fmp4.Init
	if err := init.Unmarshal(bytes.NewReader(body)); err != nil || len(init.Tracks) != 1 {
		t.Fatalf("audio init: %v, %d tracks", err, len(init.Tracks))
	}
	return init.Tracks[0].TimeScale
}

// TestAudioDecidedAfreshForANewHost: variants that declared an RTMP host's own 44.1 kHz
// AAC bind only while they run. When a WebRTC host takes over (its Opus cannot become
// 44.1 kHz AAC), the restarted variants declare ffmpeg's 48 kHz AAC and carry its audio,
// instead of declaring 44.1 kHz AAC with no audio in it.
func TestAudioDecidedAfreshForANewHost(t *testing.T) {
	s := testSFU(t)
	host := startHost(t, s, "afresh", hostOptions{clips: []clipSpec{clipQ}, audio: true})
	asc, err := (&mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelConfig: 2}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	a := host.room.SetSourceAudio(host.peer, asc, 44100)
	stop, sent := make(chan struct{}), make(chan struct{})
	go func() { // the RTMP host's AAC, in real time
		defer close(sent)
		tick := time.NewTicker(23 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				a.Write(uint32(i*1024), time.Now(), []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c})
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-sent
	}()
	to := startOrigin(t, s, DefaultConfig(), nil, nil)
	mv := to.waitLive(t, "afresh", "")
	layer, _, _ := strings.Cut(mv.Variants[0].URI, "/")
	first, _ := to.mediaPlaylist(t, "afresh", mv.Variants[0].URI)
	if rate := audioTimescale(t, to, "afresh", layer); rate != 44100 {
		t.Fatalf("the RTMP host's audio at timescale %d, want its own 44.1 kHz", rate)
	}

	close(stop)
	<-sent
	startHost(t, s, "afresh", hostOptions{clips: []clipSpec{clipQ}, audio: true}) // a WebRTC host replaces it
	mv, layer = waitRestartedVariant(t, to, "afresh", first)
	if !slices.Contains(mv.Variants[0].Codecs, "mp4a.40.2") {
		t.Fatalf("after the new host: CODECS %v, want AAC", mv.Variants[0].Codecs)
	}
	if rate := audioTimescale(t, to, "afresh", layer); rate != 48000 {
		t.Fatalf("the new host's audio at timescale %d, want ffmpeg's 48 kHz", rate)
	}
	checkAudioParts(t, to, "afresh", layer)
}
