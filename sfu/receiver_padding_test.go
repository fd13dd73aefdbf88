package sfu

import (
	"io"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// sliceSource plays back packets, then ends.
type sliceSource struct{ pkts [][]byte }

func (s *sliceSource) Read(b []byte) (int, interceptor.Attributes, error) {
	if len(s.pkts) == 0 {
		return 0, nil, io.EOF
	}
	n := copy(b, s.pkts[0])
	s.pkts = s.pkts[1:]
	return n, nil, nil
}

// TestPaddingDoesNotKeepALayerAlive: a layer that only pads (a browser's encoder paused
// it) is neither flowing nor has a bitrate, so viewers are not held waiting on it for a
// keyframe that never comes.
func TestPaddingDoesNotKeepALayerAlive(t *testing.T) {
	var src sliceSource
	for i := range 50 {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i), Timestamp: 1000,
			Padding: true, PaddingSize: 200, SSRC: 5}}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		src.pkts = append(src.pkts, b)
	}
	track := newTrack(webrtc.RTPCodecTypeVideo, nil, nil, 1)
	codec := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}
	cfg := DefaultConfig()
	r := newReceiver(track, PublishedTrack{Source: &src, Codec: codec, Kind: webrtc.RTPCodecTypeVideo, SSRC: 5}, &cfg, zap.NewNop())
	r.Run()
	now := time.Now().UnixNano()
	if r.lastRead.Load() != 0 || r.Bitrate(now) != 0 {
		t.Fatalf("padding alone: last read %d, bitrate %d; want no media seen", r.lastRead.Load(), r.Bitrate(now))
	}
	if later := now + int64(layerIdle); r.flowing(later) {
		t.Fatal("a layer that only ever padded still counts as flowing after layerIdle")
	}
}
