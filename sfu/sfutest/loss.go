package sfutest

import (
	"encoding/binary"
	"strings"
	"sync"

	"github.com/pion/interceptor"
)

// dropFactory makes an interceptor that loses every nth incoming video RTP packet once, so tests
// see real NACKs and retransmissions without a lossy network.
type dropFactory struct{ every int }

func (f *dropFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &dropper{every: f.every, dropped: map[uint64]bool{}}, nil
}

type dropper struct {
	interceptor.NoOp
	every int

	mu      sync.Mutex
	n       int
	dropped map[uint64]bool
}

// BindRemoteStream loses video only: audio is not NACKed in WebRTC (Opus conceals loss), so
// lost audio would only be lost.
func (d *dropper) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	if !strings.HasPrefix(strings.ToLower(info.MimeType), "video/") {
		return reader
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attrs, err := reader.Read(b, a)
			if err != nil || n < 12 || !d.drop(b[:n]) {
				return n, attrs, err
			}
		}
	})
}

// drop decides for one packet; a retransmission of a dropped packet always passes.
func (d *dropper) drop(pkt []byte) bool {
	key := uint64(binary.BigEndian.Uint32(pkt[8:12]))<<16 | uint64(binary.BigEndian.Uint16(pkt[2:4]))
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, seen := d.dropped[key]; seen {
		return false
	}
	d.n++
	if d.n%d.every != 0 {
		return false
	}
	d.dropped[key] = true
	return true
}
