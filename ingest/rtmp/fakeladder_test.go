package rtmp

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// rtpLadder stands in for the ffmpeg ladder in tests that are about the RTMP side: it
// forwards the host's H.264 as one RTP layer (as passthrough does) and counts audio, so
// the server, its refusals and its host sessions are tested without ffmpeg in the middle.
type rtpLadder struct {
	src     Source
	pkts    chan []byte
	stop    chan struct{}
	once    sync.Once
	codec   webrtc.RTPCodecParameters
	payload codecs.H264Payloader
	seq     uint16

	mu     sync.Mutex
	video  int
	audio  int
	closed bool
	onShed func(string, bool)
}

var _ Ladder = (*rtpLadder)(nil)

// ladders records every rtpLadder a test's server started.
type ladders struct {
	mu  sync.Mutex
	all []*rtpLadder
}

func (l *ladders) start(ctx context.Context, src Source, _ *zap.Logger) (Ladder, error) {
	codec, ok := sfu.IngestCodec(webrtc.MimeTypeH264, src.ProfileLevelID)
	if !ok {
		return nil, errors.New("profile not forwarded")
	}
	r := &rtpLadder{src: src, pkts: make(chan []byte, 1024), stop: make(chan struct{}), codec: codec}
	l.mu.Lock()
	l.all = append(l.all, r)
	l.mu.Unlock()
	return r, nil
}

func (l *ladders) list() []*rtpLadder {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*rtpLadder(nil), l.all...)
}

func (r *rtpLadder) Tracks() []sfu.PublishedTrack {
	return []sfu.PublishedTrack{{Source: sfutest.ChanSource{Packets: r.pkts, Stop: r.stop}, Codec: r.codec, Kind: webrtc.RTPCodecTypeVideo, SSRC: 4242}}
}

func (r *rtpLadder) Passthrough() bool { return true }

func (r *rtpLadder) OnSenderReport(uint32, func(*rtcp.SenderReport)) {}

// OnShed keeps f for shed, which a test calls as the ffmpeg ladder does when it cannot
// keep up (this one never falls behind on its own).
func (r *rtpLadder) OnShed(f func(string, bool)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onShed = f
}

// shed tells the session the ladder shed what (or, reduced false, took it back), as the
// ffmpeg ladder would.
func (r *rtpLadder) shed(what string, reduced bool) {
	r.mu.Lock()
	f := r.onShed
	r.mu.Unlock()
	if f != nil {
		f(what, reduced)
	}
}

func (r *rtpLadder) WriteH264(pts, _ time.Duration, au [][]byte) error {
	annexb, err := h264.AnnexB(au).Marshal()
	if err != nil {
		return err
	}
	payloads := r.payload.Payload(1200, annexb)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("ladder closed")
	}
	r.video++
	for i, p := range payloads {
		r.seq++
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: uint8(r.codec.PayloadType), SequenceNumber: r.seq,
			Timestamp: uint32(pts * 90000 / time.Second), SSRC: 4242, Marker: i == len(payloads)-1}, Payload: p}
		b, err := pkt.Marshal()
		if err != nil {
			return err
		}
		select {
		case r.pkts <- b:
		default: // a test viewer that stopped reading must not block the host
		}
	}
	return nil
}

func (r *rtpLadder) WriteAAC(time.Duration, []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audio++
	return nil
}

func (r *rtpLadder) counts() (video, audio int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.video, r.audio
}

func (r *rtpLadder) Close() error {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.stop)
	})
	return nil
}

func (r *rtpLadder) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}
