package sfutest

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// FrameSize is the encoded size of every synthetic video frame: large enough that each is
// fragmented over several RTP packets (FU-A), as real video is.
const FrameSize = 3000

var (
	sps = []byte{0x67, 0x42, 0xe0, 0x1f, 0xda, 0x02, 0x80, 0xf6, 0x88}
	pps = []byte{0x68, 0xce, 0x3c, 0x80}
)

// Frame builds the Annex-B access unit for frame n: SPS+PPS+IDR when key, else a non-IDR
// slice. The slice body carries n and a filler derived from n, so a receiver can tell a
// frame arrived whole and which frame it was. No body byte is zero, so no start code can
// appear inside it.
func Frame(n uint32, key bool) []byte { return LayerFrame(n, key, 2) }

// LayerFrame is Frame for one simulcast layer (0 low .. 2 full): the layer is part of the
// body, so a viewer can tell which layer each frame came from.
func LayerFrame(n uint32, key bool, layer byte) []byte {
	return SizedLayerFrame(n, key, layer, layerSize(layer))
}

// SizedLayerFrame is LayerFrame with a slice body of size bytes (at least 16, below 64 KiB),
// for tests that need layers of given bitrates. The body records its size, so a frame
// that lost its tail is told from a whole one.
func SizedLayerFrame(n uint32, key bool, layer byte, size int) []byte {
	size = min(max(size, 16), 0xffff)
	var b bytes.Buffer
	start := []byte{0, 0, 0, 1}
	if key {
		b.Write(start)
		b.Write(sps)
		b.Write(start)
		b.Write(pps)
	}
	b.Write(start)
	if key {
		b.WriteByte(0x65)
	} else {
		b.WriteByte(0x41)
	}
	b.Write(encodeBody(n, layer, size))
	return b.Bytes()
}

// layerSize is a layer's frame size: f FrameSize, h a quarter, q a sixteenth, as real
// simulcast layers differ in rate (about 750, 190 and 55 kbit/s at 30 fps).
func layerSize(layer byte) int { return FrameSize >> (2 * (2 - int(layer))) }

// encodeBody lays out a slice body: n (bytes 0-7), the layer (8), the size (9-12), filler.
// Numbers are written a nibble a byte in 0x10..0x1f, so no byte is zero.
func encodeBody(n uint32, layer byte, size int) []byte {
	body := make([]byte, size)
	body[8] = 0x30 + layer
	var idx [4]byte
	binary.BigEndian.PutUint32(idx[:], n)
	putNibbles(body[0:8], idx[:])
	putNibbles(body[9:13], []byte{byte(size >> 8), byte(size)})
	for i := 13; i < len(body); i++ {
		body[i] = byte(0x20 + (uint32(i)*7+n)%200)
	}
	return body
}

func putNibbles(dst, src []byte) {
	for i, v := range src {
		dst[2*i] = 0x10 | v>>4
		dst[2*i+1] = 0x10 | v&0x0f
	}
}

func getNibbles(dst, src []byte) {
	for i := range dst {
		dst[i] = (src[2*i]&0x0f)<<4 | src[2*i+1]&0x0f
	}
}

// ParseFrame checks an Annex-B access unit made by Frame and returns its frame number.
func ParseFrame(au []byte) (n uint32, key bool, err error) {
	n, key, _, err = ParseLayerFrame(au)
	return n, key, err
}

// ParseLayerFrame is ParseFrame that also returns the layer.
func ParseLayerFrame(au []byte) (n uint32, key bool, layer byte, err error) {
	nals := bytes.Split(au, []byte{0, 0, 0, 1})
	var slice []byte
	for _, nal := range nals {
		nal = bytes.TrimPrefix(nal, []byte{0, 0, 1})
		if len(nal) == 0 {
			continue
		}
		switch nal[0] & 0x1f {
		case 5:
			key = true
			slice = nal
		case 1:
			slice = nal
		}
	}
	if len(slice) < 14 {
		return 0, false, 0, fmt.Errorf("slice is %d bytes", len(slice))
	}
	body := slice[1:]
	var idx [4]byte
	var size [2]byte
	getNibbles(idx[:], body[0:8])
	getNibbles(size[:], body[9:13])
	if want := int(size[0])<<8 | int(size[1]); len(body) != want {
		return 0, false, 0, fmt.Errorf("slice body is %d bytes, the frame says %d", len(body), want)
	}
	n = binary.BigEndian.Uint32(idx[:])
	layer = body[8] - 0x30
	if layer > 2 || !bytes.Equal(body, encodeBody(n, layer, len(body))) {
		return n, key, layer, fmt.Errorf("frame %d body corrupted", n)
	}
	return n, key, layer, nil
}
