package sfu

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// BenchmarkEstimationWrite is one viewer's packet through the estimation chain the SFU binds
// when a viewer watches a simulcast stream (transport-wide sequence numbers, GCC with its
// history, the prober's check), down to a writer that stands in for SRTP.
func BenchmarkEstimationWrite(b *testing.B) {
	e := &engine{}
	m := &webrtc.MediaEngine{}
	ir := &interceptor.Registry{}
	if err := registerBWE(e, m, ir, func() (cc.BandwidthEstimator, error) {
		est, err := gcc.NewSendSideBWE(gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
		if err != nil {
			return nil, err
		}
		return &probingEstimator{BandwidthEstimator: est}, nil
	}); err != nil {
		b.Fatal(err)
	}
	ic, err := ir.Build("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer ic.Close()
	info := &interceptor.StreamInfo{SSRC: 1, ClockRate: 90000, MimeType: "video/H264",
		RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: 3}}}
	w := ic.BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		return len(p), nil
	}))
	bwe, _ := e.bwes.Load("bench")
	bwe.(*viewerBWE).active.Store(true)
	payload := make([]byte, 1200)
	var ext [2]rtp.Extension
	h := rtp.Header{Version: 2, PayloadType: 102, SSRC: 1}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h.SequenceNumber, h.Timestamp, h.Extensions, h.Extension = uint16(i), uint32(i/4*3000), ext[:0], false
		if _, err := w.Write(&h, payload, nil); err != nil {
			b.Fatal(err)
		}
	}
}
