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
	b.Write(encodeBody(n, layer))
	return b.Bytes()
}

// layerSize is a layer's frame size: f FrameSize, h a quarter, q a sixteenth, as real
// simulcast layers differ in rate (about 750, 190 and 55 kbit/s at 30 fps).
func layerSize(layer byte) int { return FrameSize >> (2 * (2 - int(layer))) }

func encodeBody(n uint32, layer byte) []byte {
	body := make([]byte, layerSize(layer))
	body[8] = 0x30 + layer
	var idx [4]byte
	binary.BigEndian.PutUint32(idx[:], n)
	// Each byte of n as two nibbles in 0x10..0x1f, so no byte is zero.
	for i, v := range idx {
		body[2*i] = 0x10 | v>>4
		body[2*i+1] = 0x10 | v&0x0f
	}
	for i := 9; i < len(body); i++ {
		body[i] = byte(0x20 + (uint32(i)*7+n)%200)
	}
	return body
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
	if len(slice) < 10 {
		return 0, false, 0, fmt.Errorf("slice is %d bytes", len(slice))
	}
	body := slice[1:]
	if l := body[8] - 0x30; l > 2 || len(body) != layerSize(l) {
		return 0, false, 0, fmt.Errorf("slice is %d bytes, not a layer's size", len(slice))
	}
	var idx [4]byte
	for i := range idx {
		idx[i] = (body[2*i]&0x0f)<<4 | body[2*i+1]&0x0f
	}
	n = binary.BigEndian.Uint32(idx[:])
	layer = body[8] - 0x30
	if layer > 2 || !bytes.Equal(body, encodeBody(n, layer)) {
		return n, key, layer, fmt.Errorf("frame %d body corrupted", n)
	}
	return n, key, layer, nil
}
