package loadtest

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// llPlaylist is a low-latency media playlist as Glint writes one (tokens shortened): two
// gap segments, a segment with its parts, the segment in progress and its preload hint.
const llPlaylist = `#EXTM3U
#EXT-X-VERSION:10
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.60000
#EXT-X-PART-INF:PART-TARGET=0.20000
#EXT-X-MEDIA-SEQUENCE:4
#EXT-X-MAP:URI="a_video1_init.mp4?access_token=T"
#EXT-X-GAP
#EXT-X-PROGRAM-DATE-TIME:2026-12-08T00:39:20.604Z
#EXTINF:1.00000,
gap.mp4?access_token=T
#EXT-X-PROGRAM-DATE-TIME:2026-12-08T00:39:25.604Z
#EXT-X-DATERANGE:ID="a,1",CLASS="live.glint.event",START-DATE="2026-12-08T00:39:25.604Z",X-DATA="x,y=z"
#EXT-X-PART:DURATION=0.20000,URI="a_video1_part10.mp4?access_token=T",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="a_video1_part11.mp4?access_token=T"
#EXTINF:0.40000,
a_video1_seg9.mp4?access_token=T
#EXT-X-PART:DURATION=0.20000,URI="a_video1_part12.mp4?access_token=T",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.20000,URI="gap.mp4",GAP=YES
#EXT-X-PART:DURATION=0.20000,URI="a_video1_part14.mp4?access_token=T"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="a_video1_part15.mp4?access_token=T"
#EXT-X-RENDITION-REPORT:URI="../f/video1_stream.m3u8?access_token=T",LAST-MSN=11,LAST-PART=1
`

func TestParseMediaReadsAFollowersFields(t *testing.T) {
	for _, eol := range []string{"\n", "\r\n"} {
		var pl mediaPlaylist
		if err := parseMedia([]byte(strings.ReplaceAll(llPlaylist, "\n", eol)), &pl, nil); err != nil {
			t.Fatal(err)
		}
		if msn, part := pl.next(); msn != 6 || part != 3 {
			t.Errorf("next part (%d, %d); want (6, 3): two segments after 4, three parts (one a gap) pending", msn, part)
		}
		want := []playlistPart{
			{"a_video1_part10.mp4?access_token=T", true}, {"a_video1_part11.mp4?access_token=T", false},
			{"a_video1_part12.mp4?access_token=T", true}, {"a_video1_part14.mp4?access_token=T", false},
		}
		if len(pl.parts) != len(want) {
			t.Fatalf("parts %v; want %v (the gap part not listed)", pl.parts, want)
		}
		for i := range want {
			if pl.parts[i] != want[i] {
				t.Errorf("part %d: %+v; want %+v", i, pl.parts[i], want[i])
			}
		}
		if pl.partTarget != 200*time.Millisecond || !pl.canBlockReload || pl.mapURI != "a_video1_init.mp4?access_token=T" ||
			pl.hint != "a_video1_part15.mp4?access_token=T" || pl.lowLatency() != "" {
			t.Errorf("read %+v", pl)
		}
	}
}

func TestParseMediaReusesAndInterns(t *testing.T) {
	interned := map[string]string{}
	calls := 0
	intern := func(b []byte) string {
		calls++
		if s, ok := interned[string(b)]; ok {
			return s
		}
		s := string(b)
		interned[s] = s
		return s
	}
	var pl mediaPlaylist
	for range 2 {
		if err := parseMedia([]byte(llPlaylist), &pl, intern); err != nil {
			t.Fatal(err)
		}
	}
	// map, five parts (the gap's too) and the hint, twice; seven distinct URIs.
	if calls != 14 || len(interned) != 7 || len(pl.parts) != 4 {
		t.Errorf("%d intern calls, %d URIs, %d parts; want 14, 7, 4 (a reload does not add to the last one's parts)", calls, len(interned), len(pl.parts))
	}
	// A plain playlist, not low-latency: read, and said why it cannot be followed.
	if err := parseMedia([]byte("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:1,\ns1.mp4\n"), &pl, nil); err != nil {
		t.Fatal(err)
	}
	if pl.lowLatency() == "" || len(pl.parts) != 0 || pl.segments != 1 {
		t.Errorf("plain playlist read as %+v", pl)
	}
}

func TestParseMediaRefusesBadInput(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"empty", ""},
		{"not M3U8", "<html>502 Bad Gateway</html>\n"},
		{"media sequence not a number", "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-1\n"},
		{"media sequence too long", "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:99999999999999999999\n"},
		{"part target missing", "#EXTM3U\n#EXT-X-PART-INF:PART-HOLD-BACK=1\n"},
		{"part target zero", "#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=0\n"},
		{"part target absurd", "#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=1e9\n"},
		{"part without URI", "#EXTM3U\n#EXT-X-PART:DURATION=0.2\n"},
		{"part URI unquoted", "#EXTM3U\n#EXT-X-PART:DURATION=0.2,URI=p.mp4\n"},
		{"part URI unterminated", "#EXTM3U\n#EXT-X-PART:DURATION=0.2,URI=\"p.mp4\n"},
		{"map without URI", "#EXTM3U\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n"},
		{"hint without URI", "#EXTM3U\n#EXT-X-PRELOAD-HINT:TYPE=PART\n"},
		{"byte-range part", "#EXTM3U\n#EXT-X-PART:DURATION=0.2,URI=\"s.mp4\",BYTERANGE=\"100@0\"\n"},
		{"delta playlist", "#EXTM3U\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n"},
	} {
		var pl mediaPlaylist
		if err := parseMedia([]byte(tc.body), &pl, nil); err == nil {
			t.Errorf("%s: accepted, read %+v", tc.name, pl)
		}
	}
}

func TestAttrValueSkipsQuotedCommas(t *testing.T) {
	list := []byte(`ID="a,URI=x",URI="p,1.mp4",GAP=YES`)
	if v, ok := attrValue(list, "URI"); !ok || string(v) != `"p,1.mp4"` {
		t.Errorf("URI = %q, %v; want the quoted value, not one inside ID", v, ok)
	}
	if !attrIs(list, "GAP", "YES") || attrIs(list, "INDEPENDENT", "YES") {
		t.Error("GAP or INDEPENDENT misread")
	}
}

// FuzzParseMedia: whatever a server sends as a media playlist, the reader returns or fails
// without a panic, and what it returns is consistent.
func FuzzParseMedia(f *testing.F) {
	f.Add([]byte(llPlaylist))
	f.Add([]byte("#EXTM3U\n#EXT-X-PART:URI=\"\"\n"))
	f.Add([]byte("#EXTM3U\r\n#EXT-X-PART:DURATION=0.2,URI=\"a\",GAP=YES,INDEPENDENT=YES\r\nx\r\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-PART-INF:PART-TARGET=NaN\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var pl mediaPlaylist
		if err := parseMedia(body, &pl, nil); err != nil {
			return
		}
		if pl.pending < 0 || pl.segments < 0 || pl.mediaSequence < 0 || pl.partTarget < 0 || pl.partTarget > time.Minute {
			t.Fatalf("read %+v", pl)
		}
		if pl.pending > strings.Count(string(body), "#EXT-X-PART:") {
			t.Fatalf("%d parts pending, more than the playlist has", pl.pending)
		}
	})
}

// TestHLSClientDecompressesPlaylists: the client asks for gzip itself and reads a gzipped
// playlist back as written, counting the bytes that crossed the wire; a reader is reused
// for the next; an encoding it did not ask for is an error, counted.
func TestHLSClientDecompressesPlaylists(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write([]byte(llPlaylist))
	_ = zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/br.m3u8":
			w.Header().Set("Content-Encoding", "br")
			_, _ = w.Write([]byte("not brotli"))
		case r.Header.Get("Accept-Encoding") != "gzip":
			http.Error(w, "want Accept-Encoding: gzip", http.StatusBadRequest)
		default:
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(zipped.Bytes())
		}
	}))
	defer srv.Close()
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &hlsClient{http: &http.Client{Transport: tr}, timeout: 5 * time.Second, st: &hlsStats{}}
	u, _ := url.Parse(srv.URL + "/index.m3u8")
	var buf bytes.Buffer
	for i := range 2 {
		body, _, err := c.get(context.Background(), "playlist", u, maxPlaylistBytes, &buf)
		if err != nil || string(body) != llPlaylist {
			t.Fatalf("get %d: %v, %d bytes; want the playlist as written", i, err, len(body))
		}
	}
	if got := c.st.bytes.Load(); got != uint64(2*zipped.Len()) {
		t.Errorf("%d bytes counted; want %d, the gzipped size twice", got, 2*zipped.Len())
	}
	br, _ := url.Parse(srv.URL + "/br.m3u8")
	if _, _, err := c.get(context.Background(), "playlist", br, maxPlaylistBytes, &buf); err == nil {
		t.Error("a brotli body was taken")
	}
	if errs := c.st.errorCounts(); len(errs) != 1 || errs["playlist Content-Encoding br"] != 1 {
		t.Errorf("errors %v; want the encoding counted once", c.st.errorCounts())
	}
}
