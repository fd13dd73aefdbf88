package llhls

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
)

// continuity carries a layer's playlists over a variant restart (a new resolution, a new
// host session): gohlslib's muxer cannot change its init file mid-stream, so a new SPS
// needs a new muxer. The next variant's playlists go on from the media sequence number
// after the old one's last segment, and keep listing the old one's last segments (its
// tail) before an EXT-X-DISCONTINUITY and the new EXT-X-MAP, until they slide out: a
// playlist may not shrink below three target durations by losing segments (RFC 8216bis
// 6.2.2). Without it the playlist vanished and came back numbered from the start, and
// hls.js gave up on it: 3-4 s blank each time a browser host's encoder changed resolution,
// which it does as its bandwidth estimate ramps up.
type continuity struct {
	nextMSN int      // the media sequence number of the next variant's first segment; 0: none
	disc    int      // EXT-X-DISCONTINUITY-SEQUENCE once the tail has slid out
	tail    *oldTail // what the next variant lists before its own segments; nil: nothing
}

// oldTail is the old variant's last segments and the files they name, immutable once taken
// (HTTP handlers read it).
type oldTail struct {
	playlists map[string]tailPlaylist // by playlist file name
	objects   map[string][]byte       // init files, segments and parts, by name
}

type tailPlaylist struct {
	mapURI   string
	segments []*playlist.MediaSegment // closed, oldest first; the last one ends at nextMSN
}

// errNoSegmentYet: a continued variant's playlist has no segment of its own to list yet
// (see continueFrom); it is rendered again with the next part.
var errNoSegmentYet = errors.New("llhls: no segment to list yet")

// continuation is where the variant that replaces this one takes up its playlists: the
// media sequence number after the last segment it listed (its open one, whose parts were
// listed, included: no number is used twice), one discontinuity more, and its tail. ok is
// false when it never listed a segment and took up from no other.
func (v *variant) continuation() (next continuity, ok bool) {
	next = continuity{nextMSN: v.cont.nextMSN, disc: v.cont.disc}
	for _, p := range v.snaps {
		if s := p.Load(); s != nil && s.msn+1 > next.nextMSN {
			next = continuity{nextMSN: s.msn + 1, disc: v.cont.disc + 1}
		}
	}
	if next.nextMSN == 0 {
		return continuity{}, false
	}
	if next.nextMSN != v.cont.nextMSN {
		next.tail = v.takeTail(next.nextMSN)
	} else {
		// It listed nothing of its own (restarted again before its first segment: a browser's
		// resolution ramps up in steps): the tail it took over is the next one's too.
		next.tail = v.tail.Load()
	}
	return next, true
}

// takeTail copies the variant's own closed segments (and its open one, closed here from
// its parts) with every file they name, for the next variant to list. A playlist whose
// segments do not end right before nextMSN (audio a segment behind video) is left out.
func (v *variant) takeTail(nextMSN int) *oldTail {
	t := &oldTail{playlists: map[string]tailPlaylist{}, objects: map[string][]byte{}}
	for file, pl := range v.last {
		first := pl.MediaSequence
		segs := []*playlist.MediaSegment{}
		for _, s := range pl.Segments {
			if s.Gap { // the leading GAP segments of a stream's first variant: no files
				first++
				continue
			}
			segs = append(segs, s)
		}
		if len(pl.Parts) > 0 && len(segs) > 0 && segs[len(segs)-1].DateTime != nil {
			open, body, ok := v.closeOpenSegment(pl, segs[len(segs)-1])
			if !ok {
				continue
			}
			segs = append(segs, open)
			t.objects[open.URI] = body
		}
		if len(segs) == 0 || first+len(segs) != nextMSN || pl.Map == nil {
			continue
		}
		names := []string{pl.Map.URI}
		for _, s := range segs {
			if _, synthetic := t.objects[s.URI]; !synthetic {
				names = append(names, s.URI)
			}
			for _, part := range s.Parts {
				names = append(names, part.URI)
			}
		}
		complete := true
		for _, name := range names {
			b, ok := v.object(name)
			if !ok {
				complete = false
				break
			}
			t.objects[name] = b
		}
		if complete {
			t.playlists[file] = tailPlaylist{mapURI: pl.Map.URI, segments: segs}
		}
	}
	if len(t.playlists) == 0 {
		return nil
	}
	return t
}

// closeOpenSegment makes the open segment (its parts listed, gohlslib never to close it)
// a segment of its own: its parts, in order, are an fMP4 segment's fragments.
func (v *variant) closeOpenSegment(pl *playlist.Media, prev *playlist.MediaSegment) (*playlist.MediaSegment, []byte, bool) {
	var body bytes.Buffer
	var d time.Duration
	for _, part := range pl.Parts {
		b, ok := v.object(part.URI)
		if !ok {
			return nil, nil, false
		}
		body.Write(b)
		d += part.Duration
	}
	date := prev.DateTime.Add(prev.Duration)
	uri := strings.TrimSuffix(pl.Map.URI, "_init.mp4") + "_seglast.mp4"
	return &playlist.MediaSegment{Duration: d, URI: uri, DateTime: &date, Parts: pl.Parts}, body.Bytes(), true
}

// continueFrom numbers pl on from the variant this one replaced: gohlslib's leading GAP
// segments are left out (iOS wants them at a stream's start; here the old variant's
// segments come first, and their numbers are the old segments'), and the first real
// segment takes cont.nextMSN. false when no segment of its own is left to list (hls.js
// calls a playlist without one empty and stalls): the first segment has just closed and
// holdSegmentOpen holds it back a part.
func (v *variant) continueFrom(pl *playlist.Media) bool {
	gaps := 0
	for gaps < len(pl.Segments) && pl.Segments[gaps].Gap {
		gaps++
	}
	if gaps == len(pl.Segments) {
		return false
	}
	pl.Segments = pl.Segments[gaps:]
	pl.MediaSequence += gaps
	if !v.shifted {
		v.shift, v.shifted = v.cont.nextMSN-pl.MediaSequence, true
	}
	pl.MediaSequence += v.shift
	disc := v.cont.disc
	pl.DiscontinuitySequence = &disc
	return true
}

// prependTail lists the old variant's tail before pl's own segments, as much of it as
// gohlslib's window (SegmentCount) leaves room for, the first own segment marked as a
// discontinuity. It returns the EXT-X-MAP to write after that discontinuity ("" when no
// tail is listed): gohlslib's playlist has room for one, at the top, which is then the
// tail's.
func (v *variant) prependTail(pl *playlist.Media, file string) (newMap string) {
	t := v.tail.Load()
	if t == nil || pl.Map == nil || len(pl.Segments) == 0 {
		return ""
	}
	tp, ok := t.playlists[file]
	keep := min(len(tp.segments), v.cfg.SegmentCount-len(pl.Segments))
	if !ok || keep <= 0 || pl.MediaSequence != v.cont.nextMSN {
		v.tailGone(t, file) // it has slid out of this playlist (or was never in it)
		return ""
	}
	first := *pl.Segments[0]
	first.Discontinuity = true
	segs := append([]*playlist.MediaSegment(nil), tp.segments[len(tp.segments)-keep:]...)
	pl.Segments = append(append(segs, &first), pl.Segments[1:]...)
	pl.MediaSequence -= keep
	newMap = pl.Map.URI
	pl.Map = &playlist.MediaMap{URI: tp.mapURI}
	disc := v.cont.disc - 1 // the discontinuity is still listed
	pl.DiscontinuitySequence = &disc
	return newMap
}

// ownPlaylist is what takeTail needs of a rendering: the variant's own segments, before a
// tail was put in front of them.
func ownPlaylist(pl *playlist.Media) *playlist.Media {
	own := *pl
	own.Segments = append([]*playlist.MediaSegment(nil), pl.Segments...)
	return &own
}

// insertMap writes the new variant's EXT-X-MAP after the discontinuity that starts it.
func insertMap(body []byte, uri string) []byte {
	const tag = "#EXT-X-DISCONTINUITY\n"
	i := bytes.Index(body, []byte(tag))
	if i < 0 {
		return body
	}
	i += len(tag)
	line := fmt.Sprintf("#EXT-X-MAP:URI=%q\n", uri)
	return append(body[:i:i], append([]byte(line), body[i:]...)...)
}

// tailGone notes that file's playlist lists t no more; once none does, t is let go (its
// files are a few megabytes a layer).
func (v *variant) tailGone(t *oldTail, file string) {
	if v.tailDone == nil {
		v.tailDone = map[string]bool{}
	}
	v.tailDone[file] = true
	for f := range v.snaps {
		if _, listed := t.playlists[f]; listed && !v.tailDone[f] {
			return
		}
	}
	v.tail.CompareAndSwap(t, nil)
}

// tailObject is a file of the tail the variant still lists.
func (v *variant) tailObject(name string) ([]byte, bool) {
	t := v.tail.Load()
	if t == nil {
		return nil, false
	}
	b, ok := t.objects[name]
	return b, ok
}
