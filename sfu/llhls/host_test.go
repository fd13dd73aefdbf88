package llhls

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// testSFU is an in-process SFU on loopback; it closes when the test ends.
func testSFU(t testing.TB) *sfu.SFU {
	t.Helper()
	cfg := sfu.DefaultConfig()
	cfg.UDPAddr = "127.0.0.1:0"
	s, err := sfu.New(cfg, sfutest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// hostOptions says what a testHost publishes.
type hostOptions struct {
	// clips are the video layers: one is a plain (non-simulcast) track, three are the
	// simulcast layers q, h, f.
	clips []clipSpec
	// audio adds an Opus track (a constant silent 20 ms frame).
	audio bool
	// jitter moves each frame's RTP timestamp by up to ±1 ms, as a browser stamping frames
	// with their capture time does; the frame grid stays 30 fps on average.
	jitter bool
	// vp8 publishes a VP8 track that sends nothing (the refusal test).
	vp8 bool
	// srFrom delays the video sender reports to frame srFrom (then one a second), as a
	// browser does whose first keyframe goes out before its first report.
	srFrom int
	// keysOnRequest sends a keyframe only first and when asked (PLI), as a browser's
	// encoder does (Chromium's H.264 has no periodic keyframes).
	keysOnRequest bool
	// vp8Clips sends the clips in VP8, as a browser does by default.
	vp8Clips bool
}

// testHost is a WebRTC-like host on a room's stage without a PeerConnection: an ingest
// session whose tracks read RTP from channels, fed in real time from encoded clips, with
// RTCP sender reports handed to each Receiver so the room's media clock exists. It answers
// keyframe requests by skipping to the clip's next keyframe, as an encoder would.
type testHost struct {
	t      testing.TB
	room   *sfu.Room
	peer   *sfu.Peer
	layers []*hostLayer
	quit   chan struct{}
	once   sync.Once
}

// hostLayer is one published video track.
type hostLayer struct {
	rid  string
	ssrc uint32
	rcv  *sfu.Receiver
	pkts chan []byte
	clip *clip
	next atomic.Pointer[clip] // a new encoding, taken at the next frame
	pli  atomic.Bool
	plis atomic.Int64
	sent atomic.Int64 // frames
}

// opusSilence is a valid 20 ms Opus frame (CELT, fullband, mono) that decodes to silence.
var opusSilence = []byte{0xf8, 0xff, 0xfe}

var (
	h264Codec, _ = sfu.IngestCodec(webrtc.MimeTypeH264, "42e01f")
	opusCodec, _ = sfu.IngestCodec(webrtc.MimeTypeOpus, "")
	vp8Codec, _  = sfu.IngestCodec(webrtc.MimeTypeVP8, "")
)

// startHost puts a host on room's stage and starts sending; it stops when the test ends.
func startHost(t testing.TB, s *sfu.SFU, room string, opts hostOptions) *testHost {
	t.Helper()
	r, err := s.Join(room, sfu.RolePublisher)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.NewIngestPeer(sfutest.Logger())
	if err != nil {
		r.Leave(sfu.RolePublisher)
		t.Fatal(err)
	}
	p.OnClose(func() { r.ClearPublisher(p); r.Leave(sfu.RolePublisher) })
	h := &testHost{t: t, room: r, peer: p, quit: make(chan struct{})}
	t.Cleanup(h.close)
	start := time.Now().Add(20 * time.Millisecond)
	seed := rand.Uint64()
	if opts.vp8 {
		pkts := make(chan []byte)
		rcv, err := r.Publish(p, sfu.PublishedTrack{Source: sfutest.ChanSource{Packets: pkts, Stop: p.Stopping()},
			Codec: vp8Codec, Kind: webrtc.RTPCodecTypeVideo, SSRC: 7})
		if err != nil {
			t.Fatal(err)
		}
		p.Go(rcv.Run)
		return h
	}
	if opts.audio {
		pkts := make(chan []byte, 256)
		rcv, err := r.Publish(p, sfu.PublishedTrack{Source: sfutest.ChanSource{Packets: pkts, Stop: p.Stopping()},
			Codec: opusCodec, Kind: webrtc.RTPCodecTypeAudio, SSRC: 100})
		if err != nil {
			t.Fatal(err)
		}
		p.Go(rcv.Run)
		p.Go(func() { h.sendAudio(rcv, pkts, start, rand.New(rand.NewPCG(seed, 100))) })
	}
	rids := []string{""}
	if len(opts.clips) == 3 {
		rids = []string{"q", "h", "f"}
	} else if len(opts.clips) != 1 {
		t.Fatalf("startHost: %d clips: want 1 or 3", len(opts.clips))
	}
	for i, spec := range opts.clips {
		l := &hostLayer{rid: rids[i], ssrc: uint32(200 + i), pkts: make(chan []byte, 1024)}
		codec := h264Codec
		if opts.vp8Clips {
			l.clip, codec = loadVP8Clip(t, spec), vp8Codec
		} else {
			l.clip = loadClip(t, spec)
		}
		rcv, err := r.Publish(p, sfu.PublishedTrack{
			Source: sfutest.ChanSource{Packets: l.pkts, Stop: p.Stopping()},
			RID:    l.rid, Codec: codec, Kind: webrtc.RTPCodecTypeVideo, SSRC: l.ssrc,
			WriteRTCP: func(pkts []rtcp.Packet) error {
				for _, pkt := range pkts {
					if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
						l.pli.Store(true)
						l.plis.Add(1)
					}
				}
				return nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		l.rcv = rcv
		h.layers = append(h.layers, l)
		p.Go(rcv.Run)
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		p.Go(func() { h.sendVideo(l, start, opts, rng) })
	}
	return h
}

// stopSending makes the host go silent; its session stays.
func (h *testHost) stopSending() { h.once.Do(func() { close(h.quit) }) }

// close ends the host's session (its tracks leave the stage).
func (h *testHost) close() {
	h.stopSending()
	h.peer.Close()
}

// switchClip makes layer l send another encoding from its next frame (a keyframe).
func (h *testHost) switchClip(l int, spec clipSpec) {
	h.layers[l].next.Store(loadClip(h.t, spec))
}

// wait sleeps until at, or returns false when the host stops.
func (h *testHost) wait(timer *time.Timer, at time.Time) bool {
	timer.Reset(time.Until(at))
	select {
	case <-timer.C:
		return true
	case <-h.quit:
		return false
	case <-h.peer.Stopping():
		return false
	}
}

func (h *testHost) send(ch chan []byte, b []byte) bool {
	select {
	case ch <- b:
		return true
	case <-h.quit:
		return false
	case <-h.peer.Stopping():
		return false
	}
}

// sendVideo sends one layer at 30 fps in real time: frame i is captured at start + i/30 s
// and its RTP timestamp is i*3000 past a random base (plus jitter); a sender report maps
// the two every second.
func (h *testHost) sendVideo(l *hostLayer, start time.Time, opts hostOptions, rng *rand.Rand) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	seq, base := uint16(rng.Uint32()), rng.Uint32()
	var pay codecs.H264Payloader
	vp8 := codecs.VP8Payloader{EnablePictureID: true}
	pt := uint8(h264Codec.PayloadType)
	if l.clip.vp8 {
		pt = uint8(vp8Codec.PayloadType)
	}
	c, pos := l.clip, 0
	for i := 0; ; i++ {
		capture := start.Add(time.Duration(i) * time.Second / clipFPS)
		if !h.wait(timer, capture) {
			return
		}
		if n := l.next.Swap(nil); n != nil {
			c, pos = n, 0
		}
		if l.pli.Swap(false) {
			pos = c.nextKey(pos)
		} else if opts.keysOnRequest && i > 0 && c.nextKey(pos) == pos {
			pos = (pos + 1) % len(c.annexB) // the clip's own keyframe, skipped: a P-frame goes instead
		}
		ts := base + uint32(i*frameTicks)
		if i >= opts.srFrom && (i-opts.srFrom)%clipFPS == 0 {
			l.rcv.OnSenderReport(&rtcp.SenderReport{SSRC: l.ssrc, NTPTime: sfu.NTP(capture), RTPTime: ts})
		}
		if opts.jitter {
			ts += uint32(rng.IntN(181) - 90)
		}
		var payloads [][]byte
		if c.vp8 {
			payloads = vp8.Payload(1200, c.annexB[pos])
		} else {
			payloads = pay.Payload(1200, c.annexB[pos])
		}
		for k, payload := range payloads {
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq,
				Timestamp: ts, SSRC: l.ssrc, Marker: k == len(payloads)-1}, Payload: payload}
			seq++
			b, err := pkt.Marshal()
			if err != nil {
				h.t.Error(err)
				return
			}
			if !h.send(l.pkts, b) {
				return
			}
		}
		l.sent.Add(1)
		pos = (pos + 1) % len(c.annexB)
	}
}

// sendAudio sends a silent Opus frame every 20 ms, as a sender does: 20 ms after its
// capture time, with its own sender reports.
func (h *testHost) sendAudio(rcv *sfu.Receiver, pkts chan []byte, start time.Time, rng *rand.Rand) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	seq, base := uint16(rng.Uint32()), rng.Uint32()
	for i := 0; ; i++ {
		capture := start.Add(time.Duration(i) * 20 * time.Millisecond)
		// A packet holds the 20 ms captured from its timestamp on: it leaves once they are.
		if !h.wait(timer, capture.Add(20*time.Millisecond)) {
			return
		}
		ts := base + uint32(i*960)
		if i%50 == 0 {
			rcv.OnSenderReport(&rtcp.SenderReport{SSRC: 100, NTPTime: sfu.NTP(capture), RTPTime: ts})
		}
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: uint8(opusCodec.PayloadType), SequenceNumber: seq,
			Timestamp: ts, SSRC: 100, Marker: i == 0}, Payload: opusSilence}
		seq++
		b, err := pkt.Marshal()
		if err != nil {
			h.t.Error(err)
			return
		}
		if !h.send(pkts, b) {
			return
		}
	}
}
