package rtmp

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// h264Viewer is a pion viewer that depacketizes the H.264 it receives the way a decoder
// would need it: whole frames, starting at a keyframe that carries an SPS, whose picture
// size it reads. Audio is counted with its codec.
type h264Viewer struct {
	pc      *webrtc.PeerConnection
	sub     *sfu.Subscriber
	wg      sync.WaitGroup
	mu      sync.Mutex
	vids    []videoFrame
	size    [2]int // from the latest SPS
	mime    string // audio codec
	apkt    int
	broken  int // frames that arrived before any SPS/keyframe: a decoder could not show them
	changed chan struct{}
}

type videoFrame struct {
	at            time.Time // when the frame's first packet arrived
	ts            uint32
	size          int // depacketized bytes
	key           bool
	width, height int
}

// newH264Viewer subscribes to room capped at maxLayer.
func newH264Viewer(t *testing.T, s *sfu.SFU, room string, maxLayer int) *h264Viewer {
	t.Helper()
	var se webrtc.SettingEngine
	se.SetSRTPReplayProtectionWindow(sfu.SRTPReplayWindow) // as a browser
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir)).
		NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	v := &h264Viewer{pc: pc, changed: make(chan struct{}, 1)}
	t.Cleanup(v.close)
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.wg.Add(1)
		go func() {
			defer v.wg.Done()
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				v.readVideo(tr)
			} else {
				v.readAudio(tr)
			}
		}()
	})
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	sub, answer, err := s.Subscribe(room, pc.LocalDescription().SDP, sfu.SubscribeOptions{MaxLayer: maxLayer}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	v.sub = sub
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("viewer did not connect")
	}
	return v
}

func (v *h264Viewer) close() {
	_ = v.pc.Close()
	if v.sub != nil {
		v.sub.Close()
	}
	v.wg.Wait()
}

func (v *h264Viewer) readVideo(tr *webrtc.TrackRemote) {
	// sfutest's assembler, as a browser: the SFU's padding probes fill their numbers (a
	// sample builder fed around them waited out each probe as a loss).
	asm := sfutest.NewAssembler()
	firstSeen := map[uint32]time.Time{} // RTP timestamp -> its first packet's arrival
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		now := time.Now()
		if _, ok := firstSeen[pkt.Timestamp]; !ok && len(pkt.Payload) > 0 {
			if len(firstSeen) > 256 {
				clear(firstSeen) // frames this old have long been taken
			}
			firstSeen[pkt.Timestamp] = now
		}
		asm.Push(pkt, now)
		for f := asm.Pop(now); f != nil; f = asm.Pop(now) {
			at, ok := firstSeen[f.Timestamp]
			if !ok {
				at = now
			}
			v.onFrame(f.Data, f.Timestamp, at)
		}
	}
}

// onFrame reads one depacketized (Annex-B) frame.
func (v *h264Viewer) onFrame(data []byte, ts uint32, at time.Time) {
	var au h264.AnnexB
	if err := au.Unmarshal(data); err != nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	f := videoFrame{at: at, ts: ts, size: len(data), key: h264.IsRandomAccess(au)}
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			var sps h264.SPS
			if err := sps.Unmarshal(n); err == nil {
				v.size = [2]int{sps.Width(), sps.Height()}
			}
		}
	}
	if v.size[0] == 0 {
		v.broken++ // no SPS seen yet: nothing could decode this
	}
	f.width, f.height = v.size[0], v.size[1]
	v.vids = append(v.vids, f)
	select {
	case v.changed <- struct{}{}:
	default:
	}
}

func (v *h264Viewer) readAudio(tr *webrtc.TrackRemote) {
	for {
		if _, _, err := tr.ReadRTP(); err != nil {
			return
		}
		v.mu.Lock()
		v.mime, v.apkt = tr.Codec().MimeType, v.apkt+1
		v.mu.Unlock()
	}
}

// frames returns the frames received so far.
func (v *h264Viewer) frames() []videoFrame {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]videoFrame(nil), v.vids...)
}

func (v *h264Viewer) audio() (mime string, packets int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.mime, v.apkt
}

// waitFrames waits until n decodable frames of the given size (0: any) arrived after
// from (an index into frames()). A scaled width may differ by a few pixels: encoders round
// it to a multiple of 2 or 4.
func (v *h264Viewer) waitFrames(ctx context.Context, from, n, width, height int) error {
	for {
		got := v.frames()
		count := 0
		for _, f := range got[min(from, len(got)):] {
			if f.width > 0 && (width == 0 || abs(f.width-width) <= 4 && f.height == height) {
				count++
			}
		}
		if count >= n {
			return nil
		}
		select {
		case <-v.changed:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("%d of %d frames (%dx%d) after frame %d; %s", count, n, width, height, from, v.summary())
		}
	}
}

func (v *h264Viewer) summary() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	keys := 0
	for _, f := range v.vids {
		if f.key {
			keys++
		}
	}
	return fmt.Sprintf("video frames %d (keyframes %d, before any SPS %d, size %dx%d), audio %s packets %d",
		len(v.vids), keys, v.broken, v.size[0], v.size[1], v.mime, v.apkt)
}

func abs(x int) int { return max(x, -x) }

// decodable counts the frames received after an SPS and those before any, which no
// decoder could show.
func (v *h264Viewer) decodable() (ok, broken int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.vids) - v.broken, v.broken
}
