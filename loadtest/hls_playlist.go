package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// mediaPlaylist is what a follower reads from a low-latency media playlist. A thousand
// followers reload it five times a second each; gohlslib's parser (a struct per segment, per
// part and per date, every URI and date copied) made the load tester its own bottleneck, so
// this reads the lines once, keeps only these fields, and reuses its slices.
type mediaPlaylist struct {
	mediaSequence  int
	segments       int           // complete segments listed (each ends with its URI line)
	partTarget     time.Duration // EXT-X-PART-INF PART-TARGET; 0 without the tag
	canBlockReload bool          // EXT-X-SERVER-CONTROL CAN-BLOCK-RELOAD=YES
	mapURI         string        // EXT-X-MAP URI
	hint           string        // EXT-X-PRELOAD-HINT TYPE=PART URI ("" without one)
	// parts are every part listed, in order: those of the segments listed with their parts,
	// then those of the segment in progress, the last pending of them.
	parts   []playlistPart
	pending int
}

// playlistPart is one EXT-X-PART, its URI as written (relative to the playlist).
type playlistPart struct {
	uri         string
	independent bool
}

// next is the media sequence number and part index of the first part not listed yet: the
// one the preload hint names, and what a blocking reload asks for.
func (pl *mediaPlaylist) next() (msn, part int) {
	return pl.mediaSequence + pl.segments, pl.pending
}

// lowLatency says why pl cannot be followed as LL-HLS ("" when it can).
func (pl *mediaPlaylist) lowLatency() string {
	if pl.partTarget <= 0 || pl.hint == "" || !pl.canBlockReload {
		return "not a low-latency playlist (needs EXT-X-PART-INF, EXT-X-PRELOAD-HINT and CAN-BLOCK-RELOAD=YES)"
	}
	return ""
}

var errNotM3U8 = errors.New("not an M3U8 playlist (no #EXTM3U first line)")

// parseMedia reads body into pl, reusing pl.parts. intern returns the string for a URI's
// bytes, so that the URIs a follower saw in its last reload are not allocated again (nil:
// copy every one). Tags the follower does not need are skipped unread; those it needs must
// be well-formed.
func parseMedia(body []byte, pl *mediaPlaylist, intern func([]byte) string) error {
	if intern == nil {
		intern = func(b []byte) string { return string(b) }
	}
	*pl = mediaPlaylist{parts: pl.parts[:0]}
	first := true
	for len(body) > 0 {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte{'\n'})
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if first {
			if !bytes.HasPrefix(line, []byte("#EXTM3U")) {
				return errNotM3U8
			}
			first = false
			continue
		}
		if len(line) == 0 {
			continue
		}
		if line[0] != '#' { // a segment's URI ends the segment, and its parts with it
			pl.segments++
			pl.pending = 0
			continue
		}
		tag, value, _ := bytes.Cut(line, []byte{':'})
		var err error
		switch string(tag) {
		case "#EXT-X-MEDIA-SEQUENCE":
			pl.mediaSequence, err = parseDecimal(value)
		case "#EXT-X-PART-INF":
			pl.partTarget, err = parsePartTarget(value)
		case "#EXT-X-SERVER-CONTROL":
			pl.canBlockReload = attrIs(value, "CAN-BLOCK-RELOAD", "YES")
		case "#EXT-X-MAP":
			pl.mapURI, err = uriAttr(value, intern)
		case "#EXT-X-PART":
			err = pl.addPart(value, intern)
		case "#EXT-X-SKIP":
			// Only a reload that asks for a delta (_HLS_skip) gets one, and the follower
			// does not: its part numbering would be off by the segments skipped.
			err = errors.New("a delta playlist, not asked for")
		case "#EXT-X-PRELOAD-HINT":
			if attrIs(value, "TYPE", "PART") {
				pl.hint, err = uriAttr(value, intern)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tag, err)
		}
	}
	if first {
		return errNotM3U8
	}
	return nil
}

// addPart reads an EXT-X-PART's attributes; a GAP part is counted (it has an index) but has
// nothing to download, so it is not listed.
func (pl *mediaPlaylist) addPart(value []byte, intern func([]byte) string) error {
	uri, err := uriAttr(value, intern)
	if err != nil {
		return err
	}
	if _, ok := attrValue(value, "BYTERANGE"); ok {
		// Parts that are ranges of one resource share its URI: the follower, which keeps
		// parts by URI, would take all but the first for downloaded.
		return errors.New("byte-range parts are not followed")
	}
	pl.pending++
	if attrIs(value, "GAP", "YES") {
		return nil
	}
	pl.parts = append(pl.parts, playlistPart{uri: uri, independent: attrIs(value, "INDEPENDENT", "YES")})
	return nil
}

// uriAttr is the attribute list's quoted URI, which must be there.
func uriAttr(value []byte, intern func([]byte) string) (string, error) {
	v, ok := attrValue(value, "URI")
	if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", errors.New(`no quoted URI="..."`)
	}
	return intern(v[1 : len(v)-1]), nil
}

// attrIs reports whether an enumerated attribute is there with the value want. Comparing
// string(v) with a string allocates nothing, which returning string(v) would.
func attrIs(value []byte, name, want string) bool {
	v, ok := attrValue(value, name)
	return ok && string(v) == want
}

// attrValue finds NAME=VALUE in an attribute list (RFC 8216 4.2): comma-separated, values
// possibly quoted strings that contain commas.
func attrValue(list []byte, name string) ([]byte, bool) {
	for len(list) > 0 {
		eq := bytes.IndexByte(list, '=')
		if eq < 0 {
			return nil, false
		}
		key, rest := list[:eq], list[eq+1:]
		end := 0
		if len(rest) > 0 && rest[0] == '"' {
			q := bytes.IndexByte(rest[1:], '"')
			if q < 0 {
				return nil, false // an unterminated quoted string
			}
			end = q + 2
		}
		if c := bytes.IndexByte(rest[end:], ','); c >= 0 {
			end += c
		} else {
			end = len(rest)
		}
		if string(key) == name {
			return rest[:end], true
		}
		list = rest[end:]
		if len(list) > 0 {
			list = list[1:] // the comma
		}
	}
	return nil, false
}

// parseDecimal is a decimal-integer (RFC 8216 4.2) that fits an int.
func parseDecimal(b []byte) (int, error) {
	if len(b) == 0 || len(b) > 18 {
		return 0, fmt.Errorf("decimal-integer %q", b)
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("decimal-integer %q", b)
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

// parsePartTarget reads PART-TARGET=<seconds> from EXT-X-PART-INF's attributes.
func parsePartTarget(value []byte) (time.Duration, error) {
	v, ok := attrValue(value, "PART-TARGET")
	if !ok {
		return 0, errors.New("no PART-TARGET")
	}
	s, err := strconv.ParseFloat(string(v), 64)
	if err != nil || !(s > 0 && s <= 60) { // NaN fails both
		return 0, fmt.Errorf("PART-TARGET %q: want seconds, above 0 and at most 60", v)
	}
	return time.Duration(s * float64(time.Second)), nil
}
