package sfutest

import (
	"io"

	"github.com/pion/interceptor"
)

// ChanSource is an sfu.TrackSource fed from a channel of RTP packets, as a non-WebRTC
// ingest (RTMP through its transcoder) feeds the SFU; it ends with io.EOF when Stop closes.
type ChanSource struct {
	Packets <-chan []byte
	Stop    <-chan struct{}
}

// Read implements sfu.TrackSource.
func (c ChanSource) Read(b []byte) (int, interceptor.Attributes, error) {
	select {
	case p := <-c.Packets:
		return copy(b, p), nil, nil
	case <-c.Stop:
		return 0, nil, io.EOF
	}
}
