package llhls

import (
	"encoding/binary"
	"errors"
)

// Ogg Opus (RFC 7845), the container the audio transcoder feeds ffmpeg: a page per packet,
// whose granule position is the packet's end on the RTP clock (48 kHz for Opus), so gaps
// (silence suppression, loss) stay gaps in time. pion's oggwriter counts samples instead,
// which would shift everything after a gap.

const (
	maxOggPacket = 255*255 - 1 // what one page's segment table can hold
	oggHeaderLen = 27
	oggSerial    = 0x676c6e74 // "glnt"
	opusRate     = 48000
)

var errOpusPacket = errors.New("llhls: not an Opus packet")

var oggCRCTable = func() (t [256]uint32) {
	for i := range t {
		r := uint32(i) << 24
		for range 8 {
			if r&0x80000000 != 0 {
				r = r<<1 ^ 0x04c11db7
			} else {
				r <<= 1
			}
		}
		t[i] = r
	}
	return t
}()

// appendOggPage appends a page holding one whole packet (at most maxOggPacket bytes).
func appendOggPage(dst []byte, headerType byte, granule int64, seq uint32, packet []byte) []byte {
	start := len(dst)
	segs := len(packet)/255 + 1
	dst = append(dst, "OggS"...)
	dst = append(dst, 0, headerType)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(granule))
	dst = binary.LittleEndian.AppendUint32(dst, oggSerial)
	dst = binary.LittleEndian.AppendUint32(dst, seq)
	dst = append(dst, 0, 0, 0, 0, byte(segs)) // CRC, filled in below
	for range segs - 1 {
		dst = append(dst, 255)
	}
	dst = append(dst, byte(len(packet)%255))
	dst = append(dst, packet...)
	var crc uint32
	for _, b := range dst[start:] {
		crc = crc<<8 ^ oggCRCTable[byte(crc>>24)^b]
	}
	binary.LittleEndian.PutUint32(dst[start+22:], crc)
	return dst
}

// oggOpusHeaders are the stream's first two pages: OpusHead (stereo, 48 kHz, no pre-skip:
// the RTP timestamps already say when each packet's audio was captured, as WebRTC plays it)
// and OpusTags.
func oggOpusHeaders() []byte {
	head := []byte("OpusHead")
	head = append(head, 1, 2)                               // version, channels
	head = binary.LittleEndian.AppendUint16(head, 0)        // pre-skip
	head = binary.LittleEndian.AppendUint32(head, opusRate) // input rate
	head = append(head, 0, 0, 0)                            // gain, mapping family 0
	tags := binary.LittleEndian.AppendUint32([]byte("OpusTags"), 5)
	tags = binary.LittleEndian.AppendUint32(append(tags, "glint"...), 0)
	out := appendOggPage(nil, 0x02, 0, 0, head) // beginning of stream
	return appendOggPage(out, 0, 0, 1, tags)
}

// opusSamples is an Opus packet's duration in 48 kHz samples (RFC 6716 3.1).
func opusSamples(packet []byte) (int, error) {
	if len(packet) == 0 {
		return 0, errOpusPacket
	}
	toc := packet[0]
	config := int(toc >> 3)
	var frame int // samples per frame
	switch {
	case config < 12: // SILK: 10, 20, 40, 60 ms
		frame = [...]int{480, 960, 1920, 2880}[config%4]
	case config < 16: // hybrid: 10, 20 ms
		frame = [...]int{480, 960}[config%2]
	default: // CELT: 2.5, 5, 10, 20 ms
		frame = [...]int{120, 240, 480, 960}[config%4]
	}
	frames := 1
	switch toc & 3 {
	case 1, 2:
		frames = 2
	case 3:
		if len(packet) < 2 {
			return 0, errOpusPacket
		}
		frames = int(packet[1] & 0x3f)
	}
	if n := frames * frame; n > 0 && n <= 5760 { // 120 ms at most
		return n, nil
	}
	return 0, errOpusPacket
}
