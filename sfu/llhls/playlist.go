package llhls

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"hash/fnv"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"go.uber.org/zap"
)

// snapshot is one rendering of a media playlist, immutable once published: every request
// is answered from it, so a thousand viewers cost one rendering.
type snapshot struct {
	body []byte
	etag string

	// The live edge: the newest complete part is part lastPart of segment msn (lastPart is
	// -1 when segment msn has no part yet, just after a segment closed).
	first    int // EXT-X-MEDIA-SEQUENCE
	msn      int
	lastPart int
	hintPart uint64 // the number in the preload hint's part name

	gzOnce sync.Once
	gz     []byte

	carryMu sync.Mutex
	carried map[string]*snapshot // renderings with a query carried into the URIs
}

// maxCarried bounds the per-query renderings a snapshot keeps: viewers sharing a token (or
// a CDN's few) reuse one; a crowd with a token each renders its own.
const maxCarried = 8

// withQuery is the snapshot with query carried into every URI, rendered once per query.
func (s *snapshot) withQuery(query string) *snapshot {
	if query == "" {
		return s
	}
	s.carryMu.Lock()
	defer s.carryMu.Unlock()
	if c := s.carried[query]; c != nil {
		return c
	}
	c := newSnapshot(withQuery(s.body, query))
	if s.carried == nil {
		s.carried = map[string]*snapshot{}
	}
	if len(s.carried) < maxCarried {
		s.carried[query] = c
	}
	return c
}

// has reports whether part p of segment m is complete in the snapshot. A part index past
// the end of a finished segment means the next segment's first part (RFC 8216bis 6.2.5.2).
func (s *snapshot) has(m, p int) bool {
	return m < s.msn || (m == s.msn && p <= s.lastPart)
}

// tooFar is the RFC's Bad Request rule: an msn beyond the last segment plus two, or a part
// beyond the last part by more than the advance part limit (3).
func (s *snapshot) tooFar(m, p int) bool {
	const advancePartLimit = 3
	return m > s.msn+2 || (m == s.msn && p > s.lastPart+advancePartLimit) || (m > s.msn && p > advancePartLimit+8)
}

func (s *snapshot) gzipped() []byte {
	s.gzOnce.Do(func() {
		var b bytes.Buffer
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(&b)
		_, _ = zw.Write(s.body)
		_ = zw.Close()
		gzipWriters.Put(zw)
		s.gz = b.Bytes()
	})
	return s.gz
}

// gzipWriters are reused: a flate writer allocates about a megabyte of tables.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// rewrite turns gohlslib's rendering into what Glint promises players (docs/PROTOCOL.md):
// a PART-TARGET and TARGETDURATION that never change for the stream's life, PART-HOLD-BACK
// three part targets, PROGRAM-DATE-TIME on every segment, and rendition reports for the
// other playlists of the room. Delta updates are not offered (no CAN-SKIP-UNTIL).
func (v *variant) rewrite(file string, raw []byte, reports []*playlist.MediaRenditionReport, events *eventLog) (*snapshot, error) {
	var pl playlist.Media
	if err := pl.Unmarshal(raw); err != nil {
		return nil, err
	}
	holdBack := 3 * v.partTarget
	pl.ServerControl = &playlist.MediaServerControl{CanBlockReload: true, PartHoldBack: &holdBack}
	pl.PartInf = &playlist.MediaPartInf{PartTarget: v.partTarget}
	pl.TargetDuration = int(v.cfg.TargetDuration / time.Second)
	v.datePlaylist(&pl)
	v.countOverlong(&pl)
	holdSegmentOpen(&pl)
	if v.cont.nextMSN > 0 && !v.continueFrom(&pl) {
		return nil, errNoSegmentYet
	}
	if v.last == nil {
		v.last = map[string]*playlist.Media{}
	}
	v.last[file] = ownPlaylist(&pl)
	newMap := v.prependTail(&pl, file)
	pl.RenditionReport = reports
	body, err := pl.Marshal()
	if err != nil {
		return nil, err
	}
	if newMap != "" {
		body = insertMap(body, newMap)
	}
	if events != nil {
		if start, ok := firstDate(&pl); ok {
			body = insertDateRanges(body, dateRanges(events.since(start)))
		}
	}
	s := &snapshot{body: body, first: pl.MediaSequence, msn: pl.MediaSequence + len(pl.Segments), lastPart: len(pl.Parts) - 1}
	if len(pl.Parts) == 0 && len(pl.Segments) > 0 {
		s.msn--
		s.lastPart = len(pl.Segments[len(pl.Segments)-1].Parts) - 1
	}
	if pl.PreloadHint != nil {
		if n, ok := partNumber(pl.PreloadHint.URI); ok {
			s.hintPart = n
		}
	}
	s.etag = etagOf(body)
	return s, nil
}

func newSnapshot(body []byte) *snapshot { return &snapshot{body: body, etag: etagOf(body)} }

// etagOf is a strong validator of a playlist's bytes.
func etagOf(body []byte) string {
	h := fnv.New64a()
	_, _ = h.Write(body)
	return fmt.Sprintf(`"%x"`, h.Sum64())
}

// datePlaylist puts EXT-X-PROGRAM-DATE-TIME on every segment: gohlslib dates only the last
// two, so each segment's date is remembered from when it was one of them; the leading gap
// segments are dated backwards from the first real one.
func (v *variant) datePlaylist(pl *playlist.Media) {
	seen := make(map[string]bool, len(pl.Segments))
	firstDated := -1
	for i, seg := range pl.Segments {
		if seg.Gap {
			continue
		}
		seen[seg.URI] = true
		if seg.DateTime != nil {
			v.pdt[seg.URI] = *seg.DateTime
		} else if t, ok := v.pdt[seg.URI]; ok {
			seg.DateTime = &t
		}
		if firstDated < 0 && seg.DateTime != nil {
			firstDated = i
		}
	}
	for uri := range v.pdt {
		if !seen[uri] {
			delete(v.pdt, uri)
		}
	}
	if firstDated < 0 {
		return
	}
	t := *pl.Segments[firstDated].DateTime
	for i := firstDated - 1; i >= 0; i-- {
		t = t.Add(-pl.Segments[i].Duration)
		d := t
		pl.Segments[i].DateTime = &d
	}
}

// countOverlong notes parts longer than PART-TARGET and segments longer than
// TARGETDURATION that appeared since the last rendering (only the newest are checked).
func (v *variant) countOverlong(pl *playlist.Media) {
	if len(pl.Parts) > 0 {
		if p := pl.Parts[len(pl.Parts)-1]; p.Duration > v.partTarget+time.Millisecond && p.URI != v.lastCheckedPart {
			v.lastCheckedPart = p.URI
			partsOverlong.Inc()
		}
	}
	if n := len(pl.Segments); n > 0 {
		if s := pl.Segments[n-1]; !s.Gap && s.URI != v.lastCheckedSegment {
			v.lastCheckedSegment = s.URI
			if time.Duration(float64(time.Second)*float64(int(s.Duration.Seconds()+0.5))) > v.cfg.TargetDuration {
				segmentsOverlong.Inc()
				v.log.Warn("segment longer than the target duration: the host's GOP is longer and it does not take keyframe requests",
					zap.Duration("segment", s.Duration), zap.Duration("target_duration", v.cfg.TargetDuration))
			}
		}
	}
}

// holdSegmentOpen lists a segment that gohlslib has just closed as still open (its parts
// after the last EXTINF, no EXTINF or URI of its own) until the next segment's first part
// is out: a segment closes together with its last part, which is often one frame long
// (the keyframe that ends it comes ~1 s after the last one, a frame or two past a part
// boundary), and hls.js (1.7.4, fragment-tracker.ts) counts a segment that closed while
// its second-to-last part was still on the way as fully buffered once the buffer is
// within 0.2 s of its end. It then never loads the last part, and the player stalls
// until the segment after next closes, 1.5-2 s (TestBrowserLLHLS showed it on every run
// on a busy machine). Held open, the segment closes a part target later, when that part
// is long buffered. The segment's last part, and everything a blocking request waits for,
// is published exactly when it was before; only the EXTINF line comes one part later,
// which costs a player that loads whole segments (none of LL-HLS's) 200 ms.
func holdSegmentOpen(pl *playlist.Media) {
	n := len(pl.Segments)
	if len(pl.Parts) != 0 || n == 0 || pl.Segments[n-1].Gap || len(pl.Segments[n-1].Parts) == 0 {
		return
	}
	pl.Parts = pl.Segments[n-1].Parts
	pl.Segments = pl.Segments[:n-1]
}

// firstDate is the PROGRAM-DATE-TIME of the playlist's first segment.
func firstDate(pl *playlist.Media) (time.Time, bool) {
	for _, s := range pl.Segments {
		if s.DateTime != nil {
			return *s.DateTime, true
		}
	}
	return time.Time{}, false
}

// partNumber reads N from gohlslib's part names ("<prefix>_<stream>_partN.mp4").
func partNumber(name string) (uint64, bool) {
	name = path.Base(name)
	if i := strings.IndexByte(name, '?'); i >= 0 {
		name = name[:i]
	}
	i := strings.LastIndex(name, "_part")
	if i < 0 || !strings.HasSuffix(name, ".mp4") {
		return 0, false
	}
	n, err := strconv.ParseUint(name[i+len("_part"):len(name)-len(".mp4")], 10, 64)
	return n, err == nil
}

// withQuery carries the request's own query (the access token) into every URI of a
// playlist, as players do not add it themselves.
func withQuery(body []byte, query string) []byte {
	if query == "" {
		return body
	}
	var out bytes.Buffer
	out.Grow(len(body) + 64*len(query))
	for line := range strings.Lines(string(body)) {
		text := strings.TrimRight(line, "\r\n")
		switch {
		case text == "":
		case !strings.HasPrefix(text, "#"):
			text = appendQuery(text, query)
		default:
			if i := strings.Index(text, `URI="`); i >= 0 {
				start := i + len(`URI="`)
				if j := strings.IndexByte(text[start:], '"'); j >= 0 {
					text = text[:start] + appendQuery(text[start:start+j], query) + text[start+j:]
				}
			}
		}
		out.WriteString(text)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

func appendQuery(uri, query string) string {
	if strings.Contains(uri, "?") {
		return uri + "&" + query
	}
	return uri + "?" + query
}
