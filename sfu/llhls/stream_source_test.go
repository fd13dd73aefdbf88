package llhls

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
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
