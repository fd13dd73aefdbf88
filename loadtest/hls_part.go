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
// are skipped: they cannot be timed.
func partFrames(part []byte, tracks map[int]bool, out []frameStamp) ([]frameStamp, error) {
	var parts fmp4.Parts
	if err := parts.Unmarshal(part); err != nil {
		return out, fmt.Errorf("part: %w", err)
	}
	if len(parts) == 0 {
		return out, errors.New("part: no moof box")
	}
	for _, p := range parts {
		for _, t := range p.Tracks {
			if !tracks[t.ID] {
				continue
			}
			for _, s := range t.Samples {
				if st, ok := avccTimingSEI(s.Payload); ok {
					out = append(out, st)
				}
			}
		}
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
