package loadtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// fakeServer is a WHIP/WHEP relay whose faults are known, so that the figures Fanout reports
// can be checked against the truth: every publisher packet reaches every viewer after a
// fixed delay, and every dropEvery-th video packet the publisher sends is dropped for all
// viewers. It has no interceptors at all, so a NACK for a dropped packet goes unanswered and
// the packet stays lost.
type fakeServer struct {
	URL       string
	delay     time.Duration
	dropEvery int // 0: drop nothing
	api       *webrtc.API
	http      *httptest.Server
	wg        sync.WaitGroup // relay, RTCP-draining and track-reading goroutines

	mu      sync.Mutex
	nextID  int
	pcs     map[string]*webrtc.PeerConnection // every session, by id
	viewers map[string]*fakeViewer
	codecs  map[webrtc.RTPCodecType]webrtc.RTPCodecCapability // the publisher's, once its tracks arrive

	dropped atomic.Uint64 // video packets
}

// fakeViewer is one WHEP session: its tracks and the packets waiting out the delay, in
// arrival order (the delay is fixed, so due times never go down and a FIFO keeps order).
type fakeViewer struct {
	video, audio *webrtc.TrackLocalStaticRTP
	queue        chan delayedPacket
	done         chan struct{}
}

type delayedPacket struct {
	due   time.Time
	video bool
	pkt   *rtp.Packet
}

// newFakeServer starts the server on 127.0.0.1; it is closed when the test ends.
func newFakeServer(t testing.TB, delay time.Duration, dropEvery int) *fakeServer {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	n, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetNet(bufferedNet{Net: n}) // big socket buffers: the injected loss should be the only loss
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s := &fakeServer{
		delay:     delay,
		dropEvery: dropEvery,
		// An explicit empty registry: without one, NewAPI registers pion's defaults, whose
		// NACK responder would repair the very loss this server injects.
		api: webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se),
			webrtc.WithInterceptorRegistry(&interceptor.Registry{})),
		pcs:     map[string]*webrtc.PeerConnection{},
		viewers: map[string]*fakeViewer{},
		codecs:  map[webrtc.RTPCodecType]webrtc.RTPCodecCapability{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whip", s.handleWHIP)
	mux.HandleFunc("POST /whep", s.handleWHEP)
	mux.HandleFunc("DELETE /session/{id}", s.handleDelete)
	s.http = httptest.NewServer(mux)
	s.URL = s.http.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the HTTP server, closes every session and waits for every goroutine.
func (s *fakeServer) Close() {
	s.http.Close()
	s.mu.Lock()
	ids := make([]string, 0, len(s.pcs))
	for id := range s.pcs {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		s.closeSession(id)
	}
	s.wg.Wait()
}

func (s *fakeServer) handleWHIP(w http.ResponseWriter, r *http.Request) {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		s.wg.Add(1)
		defer s.wg.Done()
		s.mu.Lock()
		s.codecs[t.Kind()] = t.Codec().RTPCodecCapability
		s.mu.Unlock()
		s.readTrack(t)
	})
	s.answer(w, r, pc, nil)
}

// readTrack relays one publisher track until its peer connection closes.
func (s *fakeServer) readTrack(t *webrtc.TrackRemote) {
	video := t.Kind() == webrtc.RTPCodecTypeVideo
	for n := 1; ; n++ {
		pkt, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		if video && s.dropEvery > 0 && n%s.dropEvery == 0 {
			s.dropped.Add(1)
			continue
		}
		// Extension IDs were negotiated with the publisher, not with the viewers.
		pkt.Extension, pkt.Extensions = false, nil
		s.forward(delayedPacket{due: time.Now().Add(s.delay), video: video, pkt: pkt})
	}
}

// forward queues p for every viewer. Viewers share the packet: WriteRTP copies the header
// and only reads the payload.
func (s *fakeServer) forward(p delayedPacket) {
	s.mu.Lock()
	vs := make([]*fakeViewer, 0, len(s.viewers))
	for _, v := range s.viewers {
		vs = append(vs, v)
	}
	s.mu.Unlock()
	for _, v := range vs {
		select {
		case v.queue <- p: // blocks when full rather than drop: loss here would be ours
		case <-v.done:
		}
	}
}

func (s *fakeServer) handleWHEP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	videoCodec, okV := s.codecs[webrtc.RTPCodecTypeVideo]
	audioCodec, okA := s.codecs[webrtc.RTPCodecTypeAudio]
	s.mu.Unlock()
	if !okV || !okA {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "no publisher yet", http.StatusServiceUnavailable)
		return
	}
	v := &fakeViewer{queue: make(chan delayedPacket, 4096), done: make(chan struct{})}
	var err error
	if v.video, err = webrtc.NewTrackLocalStaticRTP(videoCodec, "video", "fake"); err == nil {
		v.audio, err = webrtc.NewTrackLocalStaticRTP(audioCodec, "audio", "fake")
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.answer(w, r, pc, func(id string) error {
		for _, t := range []*webrtc.TrackLocalStaticRTP{v.video, v.audio} {
			sender, err := pc.AddTrack(t)
			if err != nil {
				return err
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); discardRTCP(sender) }()
		}
		s.wg.Add(1)
		go func() { defer s.wg.Done(); v.relay() }()
		s.mu.Lock()
		s.viewers[id] = v
		s.mu.Unlock()
		return nil
	})
}

// relay writes each packet once it is due, until the session closes.
func (v *fakeViewer) relay() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var p delayedPacket
		select {
		case <-v.done:
			return
		case p = <-v.queue:
		}
		if wait := time.Until(p.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-v.done:
				return
			case <-timer.C:
			}
		}
		track := v.audio
		if p.video {
			track = v.video
		}
		_ = track.WriteRTP(p.pkt)
	}
}

// answer applies the offer in r, runs attach (WHEP adds its tracks there) and replies 201
// with the complete answer and the session's Location.
func (s *fakeServer) answer(w http.ResponseWriter, r *http.Request, pc *webrtc.PeerConnection, attach func(id string) error) {
	s.mu.Lock()
	s.nextID++
	id := fmt.Sprint(s.nextID)
	s.pcs[id] = pc
	s.mu.Unlock()
	sdp, err := s.negotiate(r, pc, id, attach)
	if err != nil {
		s.closeSession(id)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/session/"+id)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, sdp)
}

func (s *fakeServer) negotiate(r *http.Request, pc *webrtc.PeerConnection, id string, attach func(id string) error) (string, error) {
	offer, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(offer)}); err != nil {
		return "", err
	}
	if attach != nil {
		if err := attach(id); err != nil {
			return "", err
		}
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-r.Context().Done():
		return "", r.Context().Err()
	}
	return pc.LocalDescription().SDP, nil
}

func (s *fakeServer) handleDelete(w http.ResponseWriter, r *http.Request) {
	if !s.closeSession(r.PathValue("id")) {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// closeSession ends a session of either kind and reports whether it existed.
func (s *fakeServer) closeSession(id string) bool {
	s.mu.Lock()
	pc, ok := s.pcs[id]
	v := s.viewers[id]
	delete(s.pcs, id)
	delete(s.viewers, id)
	s.mu.Unlock()
	if !ok {
		return false
	}
	if v != nil {
		close(v.done)
	}
	_ = pc.Close()
	return true
}

// discardRTCP reads a sender's RTCP (the viewer's NACKs and reports) until it closes, so
// pion's buffers never fill; none of it is acted on.
func discardRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}
