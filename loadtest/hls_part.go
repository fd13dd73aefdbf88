package loadtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
)

// frameStamp is what a frame's timing SEI says: when the publisher sent it, and its number.
type frameStamp struct {
	sent  int64 // unix ns
	frame uint64
}

// h264Tracks returns the IDs of the H.264 tracks an fMP4 initialization section (the
// playlist's EXT-X-MAP) declares: the tracks whose samples can carry the timing SEI. An
// audio rendition's has none.
func h264Tracks(init []byte) (map[int]bool, error) {
	var in fmp4.Init
	if err := in.Unmarshal(bytes.NewReader(init)); err != nil {
		return nil, fmt.Errorf("init section: %w", err)
	}
	ids := make(map[int]bool)
	for _, t := range in.Tracks {
		if _, ok := t.Codec.(*fmp4.CodecH264); ok {
			ids[t.ID] = true
		}
	}
	return ids, nil
}

// partFrames appends to out the stamps of the frames in an fMP4 part (one or more
// moof+mdat pairs) whose samples on the given tracks carry the timing SEI, in decode order.
// Frames without it (another publisher's, or a stream the load generator did not send)
// are skipped: they cannot be timed. It walks the boxes itself, copying nothing: a
// thousand viewers parse every part, and a reflection-based parser (go-mp4, through
// mediacommon) made the load tester, not the server, the bottleneck.
func partFrames(part []byte, tracks map[int]bool, out []frameStamp) ([]frameStamp, error) {
	moofs := 0
	for off := 0; off < len(part); {
		typ, body, next, err := mp4Box(part, off)
		if err != nil {
			return out, fmt.Errorf("part: %w", err)
		}
		if typ == "moof" {
			moofs++
			if out, err = moofFrames(part, off, body, tracks, out); err != nil {
				return out, fmt.Errorf("part: %w", err)
			}
		}
		off = next
	}
	if moofs == 0 {
		return out, errors.New("part: no moof box")
	}
	return out, nil
}

var errBox = errors.New("malformed box")

// mp4Box reads the box at off: its type, its payload and where the next box starts.
func mp4Box(b []byte, off int) (typ string, body []byte, next int, err error) {
	if len(b)-off < 8 {
		return "", nil, 0, errBox
	}
	size := uint64(binary.BigEndian.Uint32(b[off:]))
	typ = string(b[off+4 : off+8])
	head := uint64(8)
	switch size {
	case 0: // to the end
		size = uint64(len(b) - off)
	case 1: // 64-bit size
		if len(b)-off < 16 {
			return "", nil, 0, errBox
		}
		size, head = binary.BigEndian.Uint64(b[off+8:]), 16
	}
	if size < head || size > uint64(len(b)-off) {
		return "", nil, 0, errBox
	}
	return typ, b[off+int(head) : off+int(size)], off + int(size), nil
}

// moofFrames reads the samples of one moof's trafs (ISO 14496-12 8.8) out of part, whose
// data offsets count from the moof's first byte (default-base-is-moof, as CMAF has it).
func moofFrames(part []byte, moofStart int, moof []byte, tracks map[int]bool, out []frameStamp) ([]frameStamp, error) {
	for off := 0; off < len(moof); {
		typ, traf, next, err := mp4Box(moof, off)
		if err != nil {
			return out, err
		}
		off = next
		if typ != "traf" {
			continue
		}
		var track, defaultSize uint32
		base := int64(moofStart)
		for t := 0; t < len(traf); {
			typ, body, next, err := mp4Box(traf, t)
			if err != nil {
				return out, err
			}
			t = next
			switch typ {
			case "tfhd":
				if track, defaultSize, base, err = tfhd(body, int64(moofStart)); err != nil {
					return out, err
				}
			case "trun":
				if !tracks[int(track)] {
					continue
				}
				if out, err = trunFrames(part, body, base, defaultSize, out); err != nil {
					return out, err
				}
			}
		}
	}
	return out, nil
}

// tfhd reads a track fragment header: the track, its default sample size and the base
// its data offsets count from.
func tfhd(b []byte, moofStart int64) (track, defaultSize uint32, base int64, err error) {
	if len(b) < 8 {
		return 0, 0, 0, errBox
	}
	flags := binary.BigEndian.Uint32(b) & 0xffffff
	track, base = binary.BigEndian.Uint32(b[4:]), moofStart
	p := b[8:]
	take := func(n int) ([]byte, bool) {
		if len(p) < n {
			return nil, false
		}
		v := p[:n]
		p = p[n:]
		return v, true
	}
	if flags&0x01 != 0 { // base-data-offset
		v, ok := take(8)
		if !ok {
			return 0, 0, 0, errBox
		}
		base = int64(binary.BigEndian.Uint64(v))
	}
	for _, f := range []uint32{0x02, 0x08} { // sample-description-index, default-sample-duration
		if flags&f != 0 {
			if _, ok := take(4); !ok {
				return 0, 0, 0, errBox
			}
		}
	}
	if flags&0x10 != 0 {
		v, ok := take(4)
		if !ok {
			return 0, 0, 0, errBox
		}
		defaultSize = binary.BigEndian.Uint32(v)
	}
	return track, defaultSize, base, nil
}

// trunFrames reads a track run's samples from part and appends their timing SEI stamps.
func trunFrames(part, b []byte, base int64, defaultSize uint32, out []frameStamp) ([]frameStamp, error) {
	if len(b) < 8 {
		return out, errBox
	}
	flags := binary.BigEndian.Uint32(b) & 0xffffff
	count := binary.BigEndian.Uint32(b[4:])
	p := b[8:]
	pos := base
	if flags&0x01 != 0 {
		if len(p) < 4 {
			return out, errBox
		}
		pos += int64(int32(binary.BigEndian.Uint32(p)))
		p = p[4:]
	}
	if flags&0x04 != 0 { // first-sample-flags
		if len(p) < 4 {
			return out, errBox
		}
		p = p[4:]
	}
	per := 0
	for _, f := range []uint32{0x100, 0x200, 0x400, 0x800} {
		if flags&f != 0 {
			per += 4
		}
	}
	// Every sample takes its fields here and at least a byte of the part: a count beyond
	// either is a lie (and a loop of billions on a 4-byte box).
	if uint64(count)*uint64(per) > uint64(len(p)) || uint64(count) > uint64(len(part)) {
		return out, errBox
	}
	for i := uint32(0); i < count; i++ {
		size := defaultSize
		q := p[int(i)*per:]
		if flags&0x100 != 0 {
			q = q[4:]
		}
		if flags&0x200 != 0 {
			size = binary.BigEndian.Uint32(q)
		}
		if pos < 0 || pos > int64(len(part)) || int64(size) > int64(len(part))-pos {
			return out, errBox // pos+size could wrap past a 64-bit base-data-offset
		}
		if st, ok := avccTimingSEI(part[pos : pos+int64(size)]); ok {
			out = append(out, st)
		}
		pos += int64(size)
	}
	return out, nil
}

// avccTimingSEI finds the timing SEI among an AVCC sample's NAL units (each behind a 4-byte
// big-endian length, as fMP4 H.264 samples are), without copying the sample.
func avccTimingSEI(sample []byte) (frameStamp, bool) {
	for len(sample) >= 4 {
		n := binary.BigEndian.Uint32(sample)
		sample = sample[4:]
		if uint64(n) > uint64(len(sample)) {
			return frameStamp{}, false
		}
		nal := sample[:n]
		sample = sample[n:]
		if sent, frame, err := parseTimingSEI(nal); err == nil {
			return frameStamp{sent: sent, frame: frame}, true
		}
	}
	return frameStamp{}, false
}
