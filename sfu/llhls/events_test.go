package llhls

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

var dateRangeRE = regexp.MustCompile(`#EXT-X-DATERANGE:ID="glint-(\d+)",CLASS="live\.glint\.event",START-DATE="([^"]+)",X-GLINT-TYPE="([^"]+)",X-GLINT-EVENT="([^"]+)"`)

// TestEventsAsDateRanges: an alert the hub broadcast at a media time inside the playlist's
// window appears in the next playlists as EXT-X-DATERANGE with that START-DATE (on the
// PROGRAM-DATE-TIME clock) and its envelope intact; chat is not carried, nor is an event
// from before the window, nor one for another room.
func TestEventsAsDateRanges(t *testing.T) {
	to, _ := liveRoom(t, "events", nil)
	to.waitLive(t, "events", "")
	const rel = "f/" + videoPlaylist
	pl, _ := to.mediaPlaylist(t, "events", rel)
	last := lastDate(t, pl)
	alertAt := last.Add(-100 * time.Millisecond).Truncate(time.Millisecond)
	envelope := []byte(`{"v":1,"type":"alert","room":"events","seq":7,"mediaTime":` + itoa(alertAt.UnixMilli()) + `,"payload":{"kind":"sold","text":"SOLD"}}`)
	to.o.Event("events", "alert", 7, alertAt.UnixMilli(), envelope)
	to.o.Event("events", "chat.message", 8, alertAt.UnixMilli(), []byte(`{"type":"chat.message"}`))
	to.o.Event("events", "alert", 6, last.Add(-time.Hour).UnixMilli(), []byte(`{"old":true}`))
	to.o.Event("elsewhere", "alert", 9, alertAt.UnixMilli(), []byte(`{}`))

	var body []byte
	for deadline := time.Now().Add(5 * time.Second); ; {
		msn, part := nextPart(pl)
		resp, b := to.get(t, "/hls/events/"+blockingPath(rel, msn, part))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("blocking reload: %d %s", resp.StatusCode, b)
		}
		if bytes.Contains(b, []byte("EXT-X-DATERANGE")) {
			body = b
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no EXT-X-DATERANGE 5 s after the alert:\n%s", b)
		}
		var err error
		if pl, err = parseMedia(b); err != nil {
			t.Fatal(err)
		}
	}
	found := dateRangeRE.FindAllSubmatch(body, -1)
	if len(found) != 1 || strings.Count(string(body), "EXT-X-DATERANGE") != 1 {
		t.Fatalf("want exactly the one alert as a DATERANGE, got %d:\n%s", len(found), body)
	}
	m := found[0]
	if string(m[1]) != "7" || string(m[3]) != "alert" {
		t.Errorf("DATERANGE id %s type %s, want 7 alert", m[1], m[3])
	}
	start, err := time.Parse(time.RFC3339Nano, string(m[2]))
	if err != nil || !start.Equal(alertAt) {
		t.Errorf("START-DATE %s (%v), want the alert's mediaTime %s", m[2], err, alertAt.UTC().Format(time.RFC3339Nano))
	}
	data, err := base64.RawURLEncoding.DecodeString(string(m[4]))
	if err != nil || !bytes.Equal(data, envelope) {
		t.Errorf("X-GLINT-EVENT decodes to %q (%v), want the envelope %q", data, err, envelope)
	}
	// The tag must not break the playlist for a parser.
	if _, err := parseMedia(body); err != nil {
		t.Errorf("playlist with DATERANGE does not parse: %v", err)
	}
}

func lastDate(t *testing.T, pl *playlist.Media) time.Time {
	t.Helper()
	for i := len(pl.Segments) - 1; i >= 0; i-- {
		if d := pl.Segments[i].DateTime; d != nil {
			return *d
		}
	}
	t.Fatal("no PROGRAM-DATE-TIME in the playlist")
	return time.Time{}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
