package sfu

import (
	"fmt"
	"net/netip"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// Subscriber is a viewer's session: one PeerConnection with a DownTrack per stage Track.
// A viewer may arrive before the host; its DownTracks wait on the Tracks and start at the
// first keyframe once someone publishes.
type Subscriber struct {
	*Peer
	room *Room

	maxLayer    int
	layered     bool // a relay node's session: a DownTrack pinned to each layer (layered.go)
	videoSender *webrtc.RTPSender
	mu          sync.Mutex // addDownTracks may race with a Close during shutdown
	downTracks  []*DownTrack

	// Pacing (pacer.go), under its own lock: the allocator sets it while mu is held.
	paceMu  sync.Mutex
	addr    netip.AddrPort // where the viewer's media goes (the selected ICE pair's remote end)
	paceBps int            // the estimate the viewer is paced to, 0: unpaced
	unpaced bool           // closed: pace no more
}

// SubscribeOptions are a viewer's choices.
type SubscribeOptions struct {
	// MaxLayer caps the simulcast layer the viewer receives (LayerLow..LayerFull).
	MaxLayer int
	// ExistingRoomOnly refuses to create the room (anonymous viewers must not be able to).
	ExistingRoomOnly bool
	// Session says who the viewer is (its client key for the per-client handshake cap).
	Session SessionOptions
	// Layered asks for each simulcast layer apart, as a relay node does (layered.go):
	// granted when the offer has a video section per layer (q, h, f in that order).
	Layered bool
}

// Subscribe admits a viewer to room and answers its offer. On success the session owns the
// room membership and releases it when it closes.
func (s *SFU) Subscribe(roomName, offer string, opts SubscribeOptions, log *zap.Logger) (*Subscriber, string, error) {
	if opts.MaxLayer < LayerLow || opts.MaxLayer > LayerFull {
		return nil, "", fmt.Errorf("sfu: layer cap %d out of range", opts.MaxLayer)
	}
	if err := CheckOffer(offer, RoleViewer); err != nil {
		return nil, "", err
	}
	room, err := s.join(roomName, RoleViewer, !opts.ExistingRoomOnly)
	if err != nil {
		return nil, "", err
	}
	p, err := s.NewPeer(RoleViewer, opts.Session, log)
	if err != nil {
		room.Leave(RoleViewer)
		return nil, "", err
	}
	sub := &Subscriber{Peer: p, room: room, maxLayer: opts.MaxLayer, layered: opts.Layered && videoSections(offer) == numLayers}
	p.OnClose(func() {
		sub.mu.Lock()
		for _, dt := range sub.downTracks {
			dt.close()
		}
		sub.downTracks = nil
		sub.mu.Unlock()
		sub.paceMu.Lock()
		sub.unpaced = true
		if sub.addr.IsValid() {
			s.engine.forgetPace(sub.addr)
		}
		sub.paceMu.Unlock()
		room.Leave(RoleViewer)
	})
	// A viewer's offer may say sendrecv, and pion then accepts media from it. Nothing reads
	// that media, so drain it rather than let pion buffer it.
	p.PC.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { p.Go(func() { drainTrack(t) }) })
	if err := sub.addDownTracks(log); err != nil {
		p.Close()
		return nil, "", err
	}
	answer, err := p.Answer(offer)
	if err != nil {
		p.Close()
		return nil, "", err
	}
	bwe := s.engine.takeBWE(p.PC.ID())
	var alloc *allocator
	if !sub.layered {
		alloc = sub.newAllocator(bwe)
	}
	ice := sub.videoSender.Transport().ICETransport()
	ice.OnSelectedCandidatePairChange(func(pair *webrtc.ICECandidatePair) { sub.setLane(pair) })
	p.OnConnected(func() {
		if pair, err := ice.GetSelectedCandidatePair(); err == nil && pair != nil {
			sub.setLane(pair)
		}
		sub.mu.Lock()
		defer sub.mu.Unlock()
		// The allocator's first choice comes before any media: a viewer must not start on
		// the layer its cap allows and freeze while the estimate catches up.
		if alloc != nil {
			alloc.start(sub)
		}
		for _, dt := range sub.downTracks {
			dt.setReady(p.PC.WriteRTCP)
		}
	})
	return sub, answer, nil
}

// setLane puts the viewer's DownTracks on the send lane of the address its media goes to,
// the selected ICE pair's remote end, so the fan-out worker of that lane serves it.
func (s *Subscriber) setLane(pair *webrtc.ICECandidatePair) {
	if pair == nil || pair.Remote == nil {
		return
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return // an mDNS name never gets here: pion resolves it before pairing
	}
	addr := netip.AddrPortFrom(ip.Unmap(), pair.Remote.Port)
	e := s.room.sfu.engine
	lane := e.laneFor(addr)
	s.paceMu.Lock()
	if addr != s.addr && !s.unpaced {
		if s.addr.IsValid() {
			e.forgetPace(s.addr)
		}
		s.addr = addr
		e.setPace(addr, s.paceBps)
	}
	s.paceMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, dt := range s.downTracks {
		dt.track.setLane(dt, lane)
	}
}

// pace paces the viewer's media to its bandwidth estimate bps (0: unpaced).
func (s *Subscriber) pace(bps int) {
	s.paceMu.Lock()
	defer s.paceMu.Unlock()
	if bps == s.paceBps || s.unpaced {
		return
	}
	s.paceBps = bps
	if s.addr.IsValid() {
		s.room.sfu.engine.setPace(s.addr, bps)
	}
}

// Room is the room the viewer watches.
func (s *Subscriber) Room() *Room { return s.room }

// addDownTracks adds an audio and a video sendonly transceiver before the offer is applied,
// so pion pairs them with the viewer's recvonly m-lines.
func (s *Subscriber) addDownTracks(log *zap.Logger) error {
	streamID := "glint-" + s.room.name
	s.mu.Lock()
	defer s.mu.Unlock()
	audio := s.room.Track(webrtc.RTPCodecTypeAudio)
	video := s.room.Track(webrtc.RTPCodecTypeVideo)
	tracks := []*DownTrack{newDownTrack(audio, "audio", streamID, s.maxLayer, log.With(zap.String("kind", "audio")))}
	if s.layered {
		for l := range numLayers {
			tracks = append(tracks, newPinnedDownTrack(video, "video-"+LayerName(l), streamID, l, log.With(zap.String("kind", "video"), zap.String("rid", LayerName(l)))))
		}
	} else {
		tracks = append(tracks, newDownTrack(video, "video", streamID, s.maxLayer, log.With(zap.String("kind", "video"))))
	}
	for _, dt := range tracks {
		if s.Closing() {
			return ErrClosed
		}
		tr, err := s.PC.AddTransceiverFromTrack(dt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			return err
		}
		s.downTracks = append(s.downTracks, dt)
		dt.track.addDownTrack(dt)
		sender := tr.Sender()
		if dt.Kind() == webrtc.RTPCodecTypeVideo && s.videoSender == nil {
			s.videoSender = sender
		}
		s.Go(func() { readSenderRTCP(sender, dt) })
	}
	return nil
}

// drainTrack reads and discards media nobody forwards.
func drainTrack(t *webrtc.TrackRemote) {
	buf := make([]byte, maxPacketSize)
	for {
		if _, _, err := t.Read(buf); err != nil {
			return
		}
	}
}

// readSenderRTCP drains a sender's RTCP (so pion's interceptors run) and hands what the
// DownTrack acts on to it. It returns when the PeerConnection closes.
func readSenderRTCP(sender *webrtc.RTPSender, dt *DownTrack) {
	buf := make([]byte, maxPacketSize)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		dt.HandleRTCP(pkts)
	}
}

// SetLayerCap changes the highest simulcast layer the viewer receives (LayerLow..LayerFull),
// as a player does when it shrinks or hides the video: a lower cap takes effect at the
// next keyframe of that layer, a higher one when the viewer's bandwidth estimate carries it.
func (s *Subscriber) SetLayerCap(layer int) error {
	if layer < LayerLow || layer > LayerFull {
		return fmt.Errorf("sfu: layer cap %d out of range", layer)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxLayer = layer
	for _, dt := range s.downTracks {
		if dt.Kind() == webrtc.RTPCodecTypeVideo && dt.pinned < 0 {
			dt.setCap(layer)
		}
	}
	return nil
}

// VideoStats reports the viewer's video DownTrack (zero value with Layer -1 if none).
func (s *Subscriber) VideoStats() DownTrackStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, dt := range s.downTracks {
		if dt.Kind() == webrtc.RTPCodecTypeVideo {
			return dt.Stats()
		}
	}
	return DownTrackStats{Layer: -1}
}
