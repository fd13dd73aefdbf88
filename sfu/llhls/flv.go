package llhls

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// The transcoder reads ffmpeg's H.264 back as FLV: every tag says its size and its
// timestamp up front, so a frame is handed on the moment its last byte is read (raw
// Annex-B would end a frame only when the next one starts, a frame later), and the
// millisecond timestamp is the pts the frame went in with (vp8.go).

const (
	flvHeaderLen    = 9
	flvTagHeaderLen = 11
	flvTagAudio     = 8
	flvTagVideo     = 9
	maxFLVTag       = 4 << 20
)

var errFLV = errors.New("llhls: transcoder output is not FLV H.264 or AAC")

// flvReader reads H.264 access units and AAC frames from an FLV stream. Its buffer is reused.
type flvReader struct {
	r        *bufio.Reader
	buf      []byte
	sps, pps []byte // from the AVC sequence header, put in front of IDRs that lack them
	asc      []byte // the AAC AudioSpecificConfig, from the AAC sequence header
}

func newFLVReader(r io.Reader) *flvReader {
	return &flvReader{r: bufio.NewReaderSize(r, 64<<10), buf: make([]byte, 0, 64<<10)}
}

// header reads the file header and the first PreviousTagSize.
func (f *flvReader) header() error {
	var h [flvHeaderLen + 4]byte
	if _, err := io.ReadFull(f.r, h[:]); err != nil {
		return err
	}
	if string(h[:3]) != "FLV" {
		return fmt.Errorf("%w: header %q", errFLV, h[:3])
	}
	if off := binary.BigEndian.Uint32(h[5:9]); off != flvHeaderLen {
		return fmt.Errorf("%w: header length %d", errFLV, off)
	}
	return nil
}

// next returns the next H.264 access unit (its NAL units) or AAC frame (one element,
// audio true), valid until the next call, and its timestamp in milliseconds, skipping
// other tags (script data).
func (f *flvReader) next() (au [][]byte, ms int64, audio bool, err error) {
	for {
		var th [flvTagHeaderLen]byte
		if _, err := io.ReadFull(f.r, th[:]); err != nil {
			return nil, 0, false, err
		}
		size := int(th[1])<<16 | int(th[2])<<8 | int(th[3])
		ms = int64(uint32(th[7])<<24 | uint32(th[4])<<16 | uint32(th[5])<<8 | uint32(th[6]))
		if size > maxFLVTag {
			return nil, 0, false, fmt.Errorf("%w: tag of %d bytes", errFLV, size)
		}
		if cap(f.buf) < size+4 {
			f.buf = make([]byte, size+4)
		}
		f.buf = f.buf[:size+4] // the tag and its PreviousTagSize
		if _, err := io.ReadFull(f.r, f.buf); err != nil {
			return nil, 0, false, err
		}
		data := f.buf[:size]
		switch th[0] & 0x1f {
		case flvTagAudio:
			if frame, err := f.audio(data); err != nil || frame != nil {
				return [][]byte{frame}, ms, true, err
			}
			continue
		case flvTagVideo:
		default:
			continue
		}
		if len(data) < 5 {
			return nil, 0, false, fmt.Errorf("%w: video tag of %d bytes", errFLV, len(data))
		}
		if data[0]&0x0f != 7 { // codec 7: AVC
			return nil, 0, false, fmt.Errorf("%w: video tag of codec %d", errFLV, data[0]&0x0f)
		}
		switch data[1] {
		case 0: // sequence header: AVCDecoderConfigurationRecord
			if err := f.config(data[5:]); err != nil {
				return nil, 0, false, err
			}
		case 1:
			var avcc h264.AVCC
			if err := avcc.Unmarshal(data[5:]); err != nil {
				return nil, 0, false, fmt.Errorf("%w: %v", errFLV, err)
			}
			au = avcc
			if hasNALU(au, 5) && findNALU(au, 7) == nil && f.sps != nil {
				au = append([][]byte{f.sps, f.pps}, au...)
			}
			return au, ms, false, nil
		}
	}
}

// audio reads an AAC tag: the AudioSpecificConfig (kept; nil frame) or a raw frame.
func (f *flvReader) audio(data []byte) ([]byte, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("%w: audio tag of %d bytes", errFLV, len(data))
	}
	if data[0]>>4 != 10 { // sound format 10: AAC
		return nil, fmt.Errorf("%w: audio tag of format %d", errFLV, data[0]>>4)
	}
	if data[1] == 0 {
		f.asc = append(f.asc[:0], data[2:]...)
		return nil, nil
	}
	if f.asc == nil || len(data) == 2 {
		return nil, fmt.Errorf("%w: an AAC frame before its configuration, or empty", errFLV)
	}
	return data[2:], nil
}

// config takes the SPS and PPS from an AVCDecoderConfigurationRecord (ISO 14496-15 5.2.4.1).
func (f *flvReader) config(b []byte) error {
	bad := fmt.Errorf("%w: short AVC sequence header", errFLV)
	if len(b) < 6 {
		return bad
	}
	sps, rest, ok := firstOfList(b[6:], int(b[5]&0x1f))
	if !ok || len(rest) < 1 {
		return bad
	}
	pps, _, ok := firstOfList(rest[1:], int(rest[0]))
	if !ok || sps == nil || pps == nil {
		return bad
	}
	f.sps, f.pps = sps, pps
	return nil
}

// firstOfList reads n parameter sets, each behind a 16-bit length, and returns a copy of
// the first and what follows the list.
func firstOfList(b []byte, n int) (first, rest []byte, ok bool) {
	for range n {
		if len(b) < 2 {
			return nil, nil, false
		}
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l {
			return nil, nil, false
		}
		if first == nil {
			first = append([]byte(nil), b[2:2+l]...)
		}
		b = b[2+l:]
	}
	return first, b, true
}
